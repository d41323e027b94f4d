/** `threadbook audit --egress` as a table: one line per request through a session's door out. */
import type { EgressAuditRecord } from "../../core/egress-audit.ts";
import { formatDuration, formatBytes } from "../../core/format-size.ts";
import { inertLine } from "./terminal-safe.ts";

export function egressTable(records: readonly EgressAuditRecord[]): string {
  const rows = records.map((record) => [
    new Date(record.startedAt).toISOString().replace("T", " ").slice(0, 19),
    inertLine(record.user),
    inertLine(record.workspace ?? "-"),
    inertLine(record.conversationKey),
    inertLine(record.method),
    inertLine(`${record.host.includes(":") ? `[${record.host}]` : record.host}:${record.port}`),
    record.allowed ? "allowed" : "refused",
    formatBytes(record.bytesOut),
    formatBytes(record.bytesIn),
    formatDuration(record.durationMs),
    inertLine(record.reason ?? ""),
  ]);
  const header = ["WHEN (UTC)", "USER", "WORKSPACE", "CONVERSATION", "METHOD", "HOST", "VERDICT", "OUT", "IN", "TOOK", "REASON"];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] as number))).join("  ").trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n${records.length} request${records.length === 1 ? "" : "s"} through the door out.\n`;
}
