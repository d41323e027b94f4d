/** A task card's title for a cell: its first comment, else its first line of code. */
const titleChars = 80;

export function cellTitle(index: number, code: string): string {
  const lines = code.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const comment = lines.find((line) => line.startsWith("#") && line.replace(/^#+/, "").trim() !== "");
  const label = comment !== undefined ? comment.replace(/^#+/, "").trim() : (lines[0] ?? "empty cell");
  const short = label.length > titleChars ? `${label.slice(0, titleChars - 1)}…` : label;
  return `Cell ${index}: ${short}`;
}
