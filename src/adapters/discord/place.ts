/**
 * Where a question is answered: in a DM, the DM; in a thread, that thread;
 * in a text channel, a new public thread named after the question.
 */
import { ChannelType, ThreadAutoArchiveDuration, type Channel, type Message, type SendableChannels } from "discord.js";
import { threadName } from "./conversation.ts";

export interface Place {
  channel: SendableChannels;
  /** The guild; null in a DM. */
  guildId: string | null;
  /** True when the thread was opened for this question. */
  opened: boolean;
}

/** Null when threadbook cannot answer in this kind of channel (voice, forum, …). */
export async function placeFor(channel: Channel | null, question: string): Promise<Place | null> {
  if (channel === null) return null;
  if (channel.isDMBased()) return channel.isSendable() ? { channel, guildId: null, opened: false } : null;
  if (channel.isThread()) return channel.isSendable() ? { channel, guildId: channel.guildId, opened: false } : null;
  if (channel.type === ChannelType.GuildText) {
    const thread = await channel.threads.create({ name: threadName(question), type: ChannelType.PublicThread, autoArchiveDuration: ThreadAutoArchiveDuration.OneDay });
    return { channel: thread, guildId: channel.guildId, opened: true };
  }
  return null;
}

/**
 * A thread started from the message: its id is the message's. When one
 * exists already (the same message delivered again), it is that thread.
 */
export async function threadFromMessage(message: Message<true>, question: string): Promise<Place | null> {
  try {
    const thread = await message.startThread({ name: threadName(question), autoArchiveDuration: ThreadAutoArchiveDuration.OneDay });
    return { channel: thread, guildId: message.guildId, opened: true };
  } catch (error) {
    const existing = await message.client.channels.fetch(message.id).catch(() => null);
    if (existing?.isThread() && existing.isSendable()) return { channel: existing, guildId: message.guildId, opened: false };
    throw error;
  }
}
