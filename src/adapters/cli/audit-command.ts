/**
 * `threadbook audit`: the cell runs the store keeps, as a table for people
 * or JSON Lines for scripts. Reads the database only (beside a running bot
 * too); no Docker, no model.
 */
import type { Config } from "../../config.ts";
import { readAuditLog, type AuditQuery, type AuditRecord } from "../../core/audit-log.ts";
import { readEgressAudit } from "../../core/egress-audit.ts";
import { formatDuration } from "../../core/format-size.ts";
import { openStore } from "../../store/open-store.ts";
import type { AuditOptions } from "./ops-command-line.ts";
import { egressTable } from "./egress-audit-table.ts";
import { inertJson, inertLine } from "./terminal-safe.ts";

/** The table's code column: its first line, cut here. */
const codeColumnChars = 60;

export async function runAuditCommand(options: AuditOptions, config: Config, writeOut: (text: string) => Promise<void>): Promise<void> {
  const store = await openStore(config, { recoverInterruptedTurns: false });
  try {
    const query: AuditQuery = {
      ...(options.since === undefined ? {} : { since: options.since }),
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.conversation === undefined ? {} : { conversation: options.conversation }),
    };
    if (options.egress) {
      const requests = await readEgressAudit(store, query);
      if (options.json) return writeOut(requests.map((request) => `${inertJson({ ...request, startedAt: new Date(request.startedAt).toISOString() })}\n`).join(""));
      return writeOut(requests.length === 0 ? "No requests through the door out match.\n" : egressTable(requests));
    }
    const records = await readAuditLog(store, query);
    if (options.json) return writeOut(records.map((record) => `${inertJson({ ...record, startedAt: new Date(record.startedAt).toISOString() })}\n`).join(""));
    return writeOut(records.length === 0 ? "No cell runs match.\n" : table(records));
  } finally {
    await store.close();
  }
}

function table(records: readonly AuditRecord[]): string {
  const rows = records.map((record) => [
    new Date(record.startedAt).toISOString().replace("T", " ").slice(0, 19),
    inertLine(record.user),
    inertLine(record.workspace ?? "-"),
    inertLine(record.conversation),
    record.outcome,
    formatDuration(record.durationMs),
    firstLine(record.code),
  ]);
  const header = ["WHEN (UTC)", "USER", "WORKSPACE", "CONVERSATION", "OUTCOME", "TOOK", "CODE"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] as number))).join("  ").trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n${records.length} cell run${records.length === 1 ? "" : "s"}.\n`;
}

/** The code's first non-blank line, shown inert and cut; "…" marks more. */
function firstLine(code: string): string {
  const lines = code.split("\n").filter((text) => text.trim() !== "");
  const first = inertLine(lines[0] ?? "");
  const more = lines.length > 1 || first.length > codeColumnChars;
  return more ? `${first.slice(0, codeColumnChars)} …` : first;
}
