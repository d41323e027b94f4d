/**
 * Slack's limits, as its documentation states them, and how text is split to
 * fit them: at a paragraph or line break where one is near, never silently cut.
 */

/** Characters in one section block's text. */
export const sectionChars = 3_000;
/** Blocks in one message. */
export const blocksPerMessage = 50;
/** Characters of markdown in one stream chunk, and in the markdown blocks of one message together. */
export const markdownChars = 12_000;
/** Characters a message holds (Slack truncates `text` past this). */
export const messageChars = 40_000;
/** What one streamed message takes before the rest goes to follow-up messages, with room to spare. */
export const streamedMessageChars = 36_000;
/** Follow-up messages for an answer before it goes up whole as a file instead. */
export const overflowMessages = 4;

/**
 * Splits text into pieces of at most `maxChars`, preferring a paragraph,
 * then a line, then a space near the end of each piece. Joined, the pieces
 * are the text.
 */
export function splitText(text: string, maxChars: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars);
    const floor = Math.floor(maxChars / 2);
    let cut = window.lastIndexOf("\n\n");
    if (cut < floor) cut = window.lastIndexOf("\n");
    if (cut < floor) cut = window.lastIndexOf(" ");
    cut = cut < floor ? maxChars : cut + 1;
    // Never split a surrogate pair.
    if (cut < rest.length && /[\uD800-\uDBFF]/.test(rest[cut - 1] ?? "")) cut -= 1;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0 || pieces.length === 0) pieces.push(rest);
  return pieces;
}

/** The text within `maxChars`, saying what was left out and where the whole is when it is not. */
export function bounded(text: string, maxChars: number, whereWhole: string): string {
  if (text.length <= maxChars) return text;
  const note = `\n… (${text.length - maxChars + 80} more characters; ${whereWhole})`;
  return text.slice(0, Math.max(0, maxChars - note.length)) + note;
}
