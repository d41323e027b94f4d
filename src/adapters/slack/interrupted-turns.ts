/**
 * Questions a crash left unanswered. When the bot dies mid-turn (kill -9,
 * out of memory) the asker would wait forever; the store fails such turns
 * as it opens, and the adapter, once started, says so in each one's thread.
 */
import type { WebClient } from "@slack/web-api";
import type { Logger } from "../../log.ts";
import type { InterruptedTurn, InterruptedTurnSource } from "../../core/interrupted-turn.ts";
import { parseConversationKey } from "./conversation-key.ts";
import { isSlackId } from "./incoming-post.ts";
import { inertText } from "./slack-text.ts";

/**
 * How often a running adapter looks again: on Postgres, a replica that died
 * leaves running turns that another finds once their lease has expired.
 */
export const interruptedLookMs = 15_000;

/** Turns that started longer ago than this are only logged: a note about a question of yesterday is noise. */
export const interruptedNoteWindowMs = 60 * 60_000;
/** How much of the question the note quotes: at most this many characters, cut after a word when one ends in its last quarter. */
const quotedChars = 80;

export interface InterruptedTurnsOptions {
  turns: InterruptedTurnSource;
  client: WebClient;
  logger: Logger;
  /** Now, in epoch milliseconds. */
  now: number;
}

/** Posts a note in the thread of each Slack turn a crash left unanswered; never throws. */
export async function tellInterruptedTurns(options: InterruptedTurnsOptions): Promise<void> {
  const { client, logger, now } = options;
  let turns: InterruptedTurn[];
  try {
    turns = await options.turns.takeInterruptedTurns("slack");
  } catch (error) {
    return void logger.warn({ err: error }, "could not read the turns a restart interrupted");
  }
  for (const turn of turns) {
    const about = { turn: turn.id, conversation: turn.conversationKey, startedAt: turn.startedAt };
    const place = parseConversationKey(turn.conversationKey);
    if (place === null) {
      logger.warn(about, "a turn a restart interrupted has a conversation key that is not a Slack thread's; no note posted");
      continue;
    }
    if (now - turn.startedAt > interruptedNoteWindowMs) {
      logger.info(about, "a turn a restart interrupted started too long ago to post a note about");
      continue;
    }
    try {
      await client.chat.postMessage({ channel: place.channel, thread_ts: place.rootTs, text: interruptedNote(turn.user.id, turn.text) });
      logger.info(about, "told a thread its question was interrupted by a restart");
    } catch (error) {
      logger.warn({ ...about, err: error }, "could not tell a thread its question was interrupted by a restart");
    }
  }
}

/** The note: whose question, quoted safely, and what to do now. */
export function interruptedNote(userId: string, question: string): string {
  const asker = isSlackId(userId) ? `<@${userId}>'s question` : "a question";
  const quoted = quote(question);
  return `I was restarted while answering ${asker}${quoted === "" ? "" : ` (“${quoted}”)`}, so it has no answer. ` +
    "Please ask it again: the files attached in this thread are still here.";
}

/**
 * The question's start on one line, shown as plain text: Slack's own escapes
 * read back, control and format characters (such as U+202E) dropped, then
 * &, < and > escaped and every @ broken up with a zero-width
 * space, so no part of it can mention anyone (`<!channel>`, `@here`, `<@U1>`)
 * or make a link.
 */
function quote(question: string): string {
  const plain = question.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&")
    .replace(/\s+/g, " ").replace(/[\p{Cc}\p{Cf}]/gu, "").trim();
  const characters = [...plain];
  const clipped = characters.length <= quotedChars ? plain : `${wordsOf(characters.slice(0, quotedChars).join(""))}…`;
  return inertText(clipped);
}

/** The text up to its last space, unless that would drop more than a quarter of it. */
function wordsOf(text: string): string {
  const space = text.lastIndexOf(" ");
  return (space >= text.length * 0.75 ? text.slice(0, space) : text).trimEnd();
}
