/**
 * Cutting text to a message's limit: at line boundaries, never inside a
 * code fence. A fenced block too long for one piece on its own is closed at
 * a line and opened again (same language) in the next piece, so each piece
 * renders; a single line too long for a piece is cut where it must be.
 */

const fencePattern = /^\s*(```|~~~)/;

/** Pieces of at most `maxChars` characters, in order; joined with "\n" they are the text (fences re-opened aside). */
export function splitText(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const pieces: string[] = [];
  let current = "";
  const push = (block: string) => {
    if (current === "") current = block;
    else if (current.length + 1 + block.length <= maxChars) current = `${current}\n${block}`;
    else {
      pieces.push(current);
      current = block;
    }
  };
  for (const block of blocks(text)) {
    if (block.length <= maxChars) push(block);
    else for (const part of cutBlock(block, maxChars)) push(part);
  }
  if (current !== "") pieces.push(current);
  return pieces;
}

/** Lines outside fences one by one; a fenced block (opening line to closing line) whole. */
function blocks(text: string): string[] {
  const result: string[] = [];
  let fence: string[] | null = null;
  for (const line of text.split("\n")) {
    if (fence !== null) {
      fence.push(line);
      if (fencePattern.test(line)) {
        result.push(fence.join("\n"));
        fence = null;
      }
    } else if (fencePattern.test(line)) fence = [line];
    else result.push(line);
  }
  if (fence !== null) result.push(fence.join("\n"));
  return result;
}

/** A block longer than a piece: a fenced one in fenced parts, anything else by lines, a long line by characters. */
function cutBlock(block: string, maxChars: number): string[] {
  const lines = block.split("\n");
  const opening = lines[0] ?? "";
  const isFence = fencePattern.test(opening) && lines.length > 1;
  if (!isFence) return lines.flatMap((line) => hardWrap(line, maxChars));
  const closing = "```";
  const closed = fencePattern.test(lines[lines.length - 1] ?? "") && lines.length > 1;
  const inner = lines.slice(1, closed ? -1 : undefined);
  const room = maxChars - opening.trim().length - closing.length - 2;
  const parts: string[] = [];
  let body: string[] = [];
  let bodyLength = 0;
  for (const line of inner.flatMap((line) => hardWrap(line, room))) {
    if (body.length > 0 && bodyLength + 1 + line.length > room) {
      parts.push([opening.trim(), ...body, closing].join("\n"));
      body = [];
      bodyLength = 0;
    }
    bodyLength += (body.length === 0 ? 0 : 1) + line.length;
    body.push(line);
  }
  if (body.length > 0) parts.push([opening.trim(), ...body, closing].join("\n"));
  return parts;
}

function hardWrap(line: string, maxChars: number): string[] {
  if (line.length <= maxChars) return [line];
  const pieces: string[] = [];
  for (let start = 0; start < line.length; start += maxChars) pieces.push(line.slice(start, start + maxChars));
  return pieces;
}
