/**
 * Where a Discord conversation lives: one a thread, or one a DM channel.
 * The key is stored with the session, so a thread continues after a restart.
 */

/** Discord's limit on a thread's name. */
export const maxThreadNameChars = 100;

/** e.g. "discord:123:456" for thread 456 of guild 123; "discord:dm:789" for a DM channel. */
export function conversationKey(guildId: string | null, channelId: string): string {
  return guildId === null ? `discord:dm:${channelId}` : `discord:${guildId}:${channelId}`;
}

/** Where a conversation key points; null when the key is not one `conversationKey` makes. */
export interface ConversationPlace {
  /** The guild; null for a DM channel. */
  guildId: string | null;
  /** The thread, or the DM channel. */
  channelId: string;
}

/** A Discord id: a snowflake of 17 to 20 digits. */
export const snowflakePattern = /^[1-9]\d{16,19}$/;

/** The guild and channel of a key `conversationKey` made; null for anything else (another platform's key, a malformed one). */
export function parseConversationKey(key: string): ConversationPlace | null {
  const parts = key.split(":");
  if (parts.length !== 3 || parts[0] !== "discord") return null;
  const [, guild, channel] = parts as [string, string, string];
  if (!snowflakePattern.test(channel)) return null;
  if (guild === "dm") return { guildId: null, channelId: channel };
  return snowflakePattern.test(guild) ? { guildId: guild, channelId: channel } : null;
}

/** The question on one line, cut to Discord's 100 characters; "Question" when nothing is left. */
export function threadName(question: string): string {
  const line = question.replace(/<@!?&?\d+>/g, "").replace(/\s+/g, " ").trim();
  if (line === "") return "Question";
  const characters = Array.from(line);
  return characters.length <= maxThreadNameChars ? line : `${characters.slice(0, maxThreadNameChars - 1).join("")}…`;
}
