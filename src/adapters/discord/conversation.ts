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

/** The question on one line, cut to Discord's 100 characters; "Question" when nothing is left. */
export function threadName(question: string): string {
  const line = question.replace(/<@!?&?\d+>/g, "").replace(/\s+/g, " ").trim();
  if (line === "") return "Question";
  const characters = Array.from(line);
  return characters.length <= maxThreadNameChars ? line : `${characters.slice(0, maxThreadNameChars - 1).join("")}…`;
}
