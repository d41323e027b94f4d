/**
 * Questions a crash left unanswered: a bot killed mid-turn (kill -9, out of
 * memory) leaves its user waiting on a status message with a live Stop
 * button. As the adapter starts, the core hands over the Discord turns the store
 * found still running (each once), and each conversation gets one short
 * note to ask again. Only for turns that started within the last hour; an
 * older one is logged. A key that does not parse, a channel that is gone or
 * a refused post is logged and skipped: none stops the adapter starting.
 */
import { escapeMarkdown, type Channel, type Client, type MessageCreateOptions } from "discord.js";
import type { Logger } from "../../log.ts";
import type { InterruptedTurn, InterruptedTurnSource } from "../../core/interrupted-turn.ts";
import { parseConversationKey, snowflakePattern, type ConversationPlace } from "./conversation.ts";

/** A question older than this when the bot is back is only logged: a note about it would come out of nowhere. */
/**
 * How often a running adapter looks again: on Postgres, a replica that died
 * leaves running turns that another finds once their lease has expired.
 */
export const interruptedLookMs = 15_000;

export const interruptedNoticeWindowMs = 60 * 60 * 1000;
/** The question is quoted up to this many characters. */
const quotedChars = 80;

/** Posts the note for each Discord turn the store found interrupted; never rejects. */
export async function noticeInterruptedTurns(client: Client<true>, source: InterruptedTurnSource, logger: Logger, now = Date.now()): Promise<void> {
  let turns: InterruptedTurn[];
  try {
    turns = await source.takeInterruptedTurns("discord");
  } catch (error) {
    logger.error({ err: error }, "could not read the turns a restart interrupted");
    return;
  }
  for (const turn of turns) {
    const details = { turn: turn.id, conversation: turn.conversationKey, startedAt: turn.startedAt };
    if (now - turn.startedAt > interruptedNoticeWindowMs) {
      logger.info(details, "a turn a restart interrupted is too old to tell about");
      continue;
    }
    const place = parseConversationKey(turn.conversationKey);
    if (place === null) {
      logger.warn(details, "a turn a restart interrupted has a conversation key that is not Discord's; not told");
      continue;
    }
    try {
      const channel = await client.channels.fetch(place.channelId);
      if (channel === null || !channel.isSendable() || !isConversationChannel(channel, place)) {
        logger.warn(details, "the channel of a turn a restart interrupted cannot take messages or is not the conversation's; not told");
        continue;
      }
      await channel.send(interruptedNotice(turn));
      logger.info(details, "told the conversation its question went unanswered in a restart");
    } catch (error) {
      // Discord's refusals: the channel gone (10003), no access or permission (50001, 50013), ...
      logger.warn({ ...details, err: error }, "could not tell the conversation its question went unanswered in a restart");
    }
  }
}

/** The note: who asked and what (quoted safely), that it has no answer, to ask again. Pings the asker alone. */
export function interruptedNotice(turn: InterruptedTurn): MessageCreateOptions {
  const asker = snowflakePattern.test(turn.user.id) ? turn.user.id : null;
  const whose = asker === null ? "a question" : `<@${asker}>'s question`;
  return {
    content: `I was restarted while answering ${whose} (“${quoted(turn.text)}”), so it has no answer. Please ask it again; files shared here before it are kept.`,
    allowedMentions: { parse: [], users: asker === null ? [] : [asker] },
  };
}

/** The key names the channel's guild, or a DM: a channel elsewhere is not the conversation's. */
function isConversationChannel(channel: Channel, place: ConversationPlace): boolean {
  return place.guildId === null ? channel.isDMBased() : !channel.isDMBased() && channel.guildId === place.guildId;
}

/** The question on one line, cut to `quotedChars`, its markdown escaped so it shows as written. */
function quoted(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  const characters = Array.from(line);
  const cut = characters.length <= quotedChars ? line : `${characters.slice(0, quotedChars - 1).join("").trimEnd()}…`;
  return escapeMarkdown(cut);
}
