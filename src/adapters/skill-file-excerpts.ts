/**
 * What a skill's review shows of each of its files, on any platform: every
 * file of the proposal (SKILL.md, then scripts/, references/, assets/ and
 * the rest), each with the head of its text in a fair share of the room the
 * platform gives, so one long file cannot hide the others. A share is
 * max-min fair: files shorter than an equal share are shown whole and leave
 * the rest to the longer ones. A file that is not UTF-8 text is named with
 * its size only. Files past `maxFiles` are counted, not shown.
 */

export interface SkillFileInput {
  path: string;
  data: Buffer;
}

export interface FileExcerpt {
  path: string;
  bytes: number;
  /** The file's text, trailing whitespace dropped; null for a file that is not UTF-8 text (an image, say). */
  whole: string | null;
  /** The head of `whole` in whole lines (its first line cut when even that does not fit); all of it when it fits. */
  shown: string;
}

export interface Excerpts {
  excerpts: FileExcerpt[];
  /** Files not shown at all, past `maxFiles`. */
  filesLeft: number;
  /** Whether anything was left out: a file cut, or files not shown. */
  cut: boolean;
}

/** How a review lists a skill's files: SKILL.md, then the scripts, the references, the assets, the rest; by path within each. */
const groupOrder = [/^SKILL\.md$/, /^scripts\//, /^references\//, /^assets\//];

/**
 * `budget`: characters of file text across all excerpts; `maxFiles`: files
 * shown at most; `perFileMax`: characters of one file at most.
 */
export function skillFileExcerpts(files: readonly SkillFileInput[], budget: number, maxFiles: number, perFileMax = Number.POSITIVE_INFINITY): Excerpts {
  const ordered = [...files].sort((a, b) => groupOf(a.path) - groupOf(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const shownFiles = ordered.slice(0, Math.max(0, maxFiles));
  const texts = shownFiles.map((file) => textOf(file.data));
  const allowances = fairShares(texts.map((text) => Math.min(perFileMax, text?.trimEnd().length ?? 0)), Math.max(0, budget));
  const excerpts = shownFiles.map((file, index): FileExcerpt => {
    const whole = texts[index]?.trimEnd() ?? null;
    return { path: file.path, bytes: file.data.length, whole, shown: whole === null ? "" : headOfLines(whole, allowances[index] ?? 0) };
  });
  const filesLeft = ordered.length - shownFiles.length;
  return { excerpts, filesLeft, cut: filesLeft > 0 || excerpts.some((excerpt) => !isComplete(excerpt)) };
}

/** Whether the excerpt shows its whole file (a binary file counts as shown by its size). */
export function isComplete(excerpt: FileExcerpt): boolean {
  return excerpt.whole === null || excerpt.shown.length === excerpt.whole.length;
}

/** What an excerpt left out, in words: "12 more lines", "the rest of its line"; "" when nothing. */
export function leftOut(excerpt: FileExcerpt): string {
  if (isComplete(excerpt) || excerpt.whole === null) return "";
  const lines = countLines(excerpt.whole) - countLines(excerpt.shown);
  if (lines <= 0) return "the rest of its line";
  return `${lines} more line${lines === 1 ? "" : "s"}`;
}

/** The same excerpt shortened to at most `room` characters of text, still in whole lines where it can be. */
export function shortened(excerpt: FileExcerpt, room: number): FileExcerpt {
  return excerpt.whole === null ? excerpt : { ...excerpt, shown: headOfLines(excerpt.shown, room) };
}

/** Max-min fair shares of `budget` for items of the given lengths: none gets more than its length. */
export function fairShares(lengths: readonly number[], budget: number): number[] {
  const shares = lengths.map(() => 0);
  const byLength = lengths.map((length, index) => ({ length, index })).sort((a, b) => a.length - b.length);
  let left = budget;
  for (const [position, item] of byLength.entries()) {
    const share = Math.floor(left / (byLength.length - position));
    const given = Math.min(item.length, share);
    shares[item.index] = given;
    left -= given;
  }
  return shares;
}

/** The longest head of whole lines within `room` characters; the first line cut when even it does not fit. */
export function headOfLines(text: string, room: number): string {
  if (text.length <= room) return text;
  if (room <= 0) return "";
  const end = text.lastIndexOf("\n", room);
  if (end > 0) return text.slice(0, end);
  let cut = room;
  // Never split a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(text[cut - 1] ?? "")) cut -= 1;
  return text.slice(0, cut);
}

export function countLines(text: string): number {
  return text === "" ? 0 : text.split("\n").length;
}

function groupOf(path: string): number {
  const index = groupOrder.findIndex((pattern) => pattern.test(path));
  return index < 0 ? groupOrder.length : index;
}

/** The file as text, or null when it is not UTF-8 or holds a NUL (a binary file). */
function textOf(data: Buffer): string | null {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(data);
    return text.includes("\u0000") ? null : text;
  } catch {
    return null;
  }
}
