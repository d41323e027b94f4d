/** A fenced code block for Discord's markdown. */

/** A code block that no fence inside the text can close early (a zero-width space breaks each inner fence). */
export function fenced(text: string, language: string): string {
  return `\`\`\`${language}\n${text.replace(/```/g, "`\u200b``")}\n\`\`\``;
}
