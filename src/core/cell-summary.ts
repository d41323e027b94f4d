/**
 * A cell's result as people and the audit log see it: a one-line summary
 * for progress, the error text for a reply, and the outcome.
 */
import type { CellResult } from "../sandbox/sandbox.ts";
import type { CellOutcome } from "../store/store.ts";
import { formatBytes } from "./format-size.ts";

export function cellOutcome(result: CellResult): CellOutcome {
  if (result.stateLost) return "lost";
  if (result.timedOut) return "timeout";
  return result.error === null ? "ok" : "error";
}

/** The traceback, or "Name: message" when there is none (a timeout, a lost session); null when the cell ran clean. */
export function cellErrorText(result: CellResult): string | null {
  if (result.error === null) return null;
  return result.error.traceback !== "" ? result.error.traceback.trimEnd() : `${result.error.name}: ${result.error.message}`;
}

/** e.g. "KeyError: 'price'", "= 42", "3 lines of output, 1 figure", "ran without output". */
export function cellSummary(result: CellResult): string {
  if (result.error !== null) return firstLine(`${result.error.name}: ${result.error.message}`, 160);
  const parts: string[] = [];
  if (result.value !== null) {
    const lines = result.value.split("\n").length;
    parts.push(lines === 1 ? `= ${firstLine(result.value, 80)}` : `a value of ${lines} lines`);
  }
  if (result.stdoutBytes > 0) {
    const lines = result.stdout.split("\n").filter((line) => line !== "").length;
    parts.push(result.stdoutBytes > Buffer.byteLength(result.stdout) ? `${formatBytes(result.stdoutBytes)} of output` : `${lines} line${lines === 1 ? "" : "s"} of output`);
  }
  if (result.figures.length > 0) parts.push(`${result.figures.length} figure${result.figures.length === 1 ? "" : "s"}`);
  const others = result.files.length - result.figures.length;
  if (others > 0) parts.push(`${others} file${others === 1 ? "" : "s"}`);
  return parts.length > 0 ? parts.join(", ") : "ran without output";
}

function firstLine(text: string, maxChars: number): string {
  const line = text.split("\n", 1)[0] ?? "";
  const more = line.length > maxChars || text.includes("\n");
  return more ? `${line.slice(0, maxChars)}…` : line;
}
