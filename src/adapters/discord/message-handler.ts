/**
 * Messages: in a DM every message is a question; in a thread threadbook
 * owns, every message continues the conversation without a mention (this
 * needs the Message Content intent); a mention in a channel starts a new
 * thread from the message, and a mention in another thread is answered there.
 */
import { ChannelType, type Message } from "discord.js";
import { chatMessage } from "../chat-safe.ts";
import { isAllowed, refusalMessage } from "./access.ts";
import { answerTurn } from "./answer-turn.ts";
import { askerOf, turnUser } from "./asker.ts";
import { helpText } from "./commands.ts";
import { conversationKey } from "./conversation.ts";
import type { DiscordContext } from "./discord-context.ts";
import { incomingFiles } from "./download-attachments.ts";
import { defaultUploadLimitBytes } from "./message-limits.ts";
import { threadFromMessage, type Place } from "./place.ts";

export async function handleMessage(context: DiscordContext, message: Message): Promise<void> {
  if (message.author.bot || message.system) return;
  const botId = context.client.user.id;
  const channel = message.channel;
  const mentioned = message.mentions.users.has(botId);
  const ownThread = channel.isThread() && channel.ownerId === botId;
  const inDm = message.guildId === null;
  if (!inDm && !ownThread && !mentioned) return;
  try {
    const asker = askerOf(message.guildId, message.channelId, channel, message.member);
    if (!isAllowed(asker, context.settings)) {
      context.logger.info({ user: message.author.id, guild: message.guildId, channel: message.channelId }, "message refused: not on the allow-lists");
      // A message cannot be answered privately; a mention or DM still gets a short reply.
      if (mentioned || inDm) await message.reply({ content: refusalMessage, allowedMentions: { parse: [] } });
      return;
    }
    const question = message.content.replace(new RegExp(`<@!?${botId}>`, "g"), "").trim();
    const files = [...message.attachments.values()].map((file) => ({ name: file.name, url: file.url, size: file.size }));
    if (question === "" && files.length === 0) {
      if (mentioned || inDm) await message.reply({ content: helpText, allowedMentions: { parse: [] } });
      return;
    }
    const text = question !== "" ? question : "Look at the attached file and tell me what is in it.";
    const place = await placeOf(message, text);
    if (place === null) return;
    await answerTurn(context, place.channel, {
      conversationKey: conversationKey(place.guildId, place.channel.id),
      eventKey: `discord:message:${message.id}`,
      user: turnUser(message.author, message.guildId, message.member),
      direct: inDm,
      text,
      attachments: [],
      files: incomingFiles(files),
    }, { uploadLimitBytes: defaultUploadLimitBytes });
  } catch (error) {
    context.logger.error({ err: error, message: message.id }, "message failed");
    await message.reply({ content: `threadbook could not do that: ${chatMessage(error)}`, allowedMentions: { parse: [] } }).catch(() => undefined);
  }
}

async function placeOf(message: Message, question: string): Promise<Place | null> {
  const channel = message.channel;
  if (message.guildId === null) return channel.isSendable() ? { channel, guildId: null, opened: false } : null;
  if (channel.isThread()) return channel.isSendable() ? { channel, guildId: message.guildId, opened: false } : null;
  if (channel.type === ChannelType.GuildText && message.inGuild()) return threadFromMessage(message, question);
  return null;
}
