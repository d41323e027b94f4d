/**
 * Keeping long text short enough for a model's context or a chat message:
 * the head and the tail survive, and a note says how much was cut between.
 */

/**
 * `text` unchanged when it has at most `maxChars` characters; otherwise its
 * head (about 60%) and tail, with the number of characters cut in between.
 */
export function headAndTail(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const noteRoom = 48;
  const keep = Math.max(0, maxChars - noteRoom);
  const headLength = avoidSplitPair(text, Math.ceil(keep * 0.6));
  const tailStart = avoidSplitPair(text, text.length - Math.max(0, keep - headLength));
  const cut = tailStart - headLength;
  return `${text.slice(0, headLength)}\n[... ${cut.toLocaleString("en-US")} characters cut ...]\n${text.slice(tailStart)}`;
}

/** Moves a cut point off the middle of a surrogate pair, so no half-character is left. */
function avoidSplitPair(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code >= 0xdc00 && code <= 0xdfff ? index + 1 : index;
}
