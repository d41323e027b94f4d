/**
 * The reply as a person reads it in a terminal: each cell's code and output,
 * then the answer, then the files. Long output shows head and tail; the
 * whole is in `--json`.
 */
import { headAndTail } from "../../core/bounded-text.ts";
import { formatBytes, formatDuration } from "../../core/format-size.ts";
import type { Reply, ReplyCell } from "../../core/turn.ts";

const maxOutputChars = 4_000;

export function renderReply(reply: Reply, written: Map<string, string> = new Map()): string {
  const parts = reply.cells.map((cell, index) => renderCell(cell, index + 1));
  if (reply.text.trim() !== "") parts.push(reply.text.trim());
  if (reply.files.length > 0) {
    const lines = reply.files.map((file) => {
      const path = written.get(file.name);
      return `  ${file.name} (${formatBytes(file.bytes)})${path === undefined ? "" : ` → ${path}`}`;
    });
    const hint = written.size === 0 ? " (use --out DIR to save them)" : "";
    parts.push(`Files${hint}:\n${lines.join("\n")}`);
  }
  if (reply.filesOmitted.length > 0) parts.push(`Files left out (too many or too large): ${reply.filesOmitted.join(", ")}`);
  const waiting = reply.proposedSkills.filter((skill) => skill.status === "proposed");
  if (waiting.length > 0) {
    const lines = waiting.map((skill) => `  threadbook skills show ${skill.name}${scopeOption(skill.scope)}    then: threadbook skills approve ${skill.name}${scopeOption(skill.scope)}`);
    parts.push(`To review and approve:\n${lines.join("\n")}`);
  }
  return `${parts.join("\n\n")}\n`;
}

/** The terminal's conversations are global; a skill of another scope is named with its scope. */
function scopeOption(scope: string): string {
  return scope === "global" ? "" : ` --scope ${scope}`;
}

function renderCell(cell: ReplyCell, number: number): string {
  const lines = [`── cell ${number} (${formatDuration(cell.durationMs)}) ──`, cell.code.trimEnd()];
  const output = [cell.stdout.trimEnd(), cell.stderr.trimEnd(), cell.value === null ? "" : cell.value, cell.error ?? ""]
    .filter((text) => text !== "")
    .map((text) => headAndTail(text, maxOutputChars));
  if (output.length > 0) lines.push("── output ──", ...output);
  return lines.join("\n");
}
