/**
 * Runs `threadbook usage`: the usage ledger read back through the core, as a
 * table for people or one JSON object for scripts. Needs the store only: no
 * model, no Docker.
 */
import type { Config } from "../../config.ts";
import { usageReport, type UsageReport, type UsageRow } from "../../core/usage-report.ts";
import { openStore } from "../../store/open-store.ts";
import type { UsageOptions } from "./usage-command-line.ts";

export async function runUsageCommand(options: UsageOptions, config: Config, writeOut: (text: string) => Promise<void>, now = Date.now()): Promise<void> {
  const store = await openStore(config, { recoverInterruptedTurns: false });
  try {
    const report = await usageReport(store, { sinceMs: now - options.sinceMs, by: options.by }, config.usage.prices);
    await writeOut(options.json ? `${JSON.stringify(jsonReport(report))}\n` : renderTable(report, options.since));
  } finally {
    await store.close();
  }
}

function jsonReport(report: UsageReport) {
  const row = (entry: Omit<UsageRow, "group" | "model">) => ({
    turns: entry.turns,
    steps: entry.steps,
    inputTokens: entry.inputTokens,
    cachedInputTokens: entry.cachedInputTokens,
    outputTokens: entry.outputTokens,
    reasoningTokens: entry.reasoningTokens,
    cost: entry.cost === null ? null : round(entry.cost),
  });
  return {
    since: new Date(report.sinceMs).toISOString(),
    by: report.by,
    rows: report.rows.map((entry) => ({ [report.by]: entry.group, model: entry.model, ...row(entry) })),
    total: row(report.total),
  };
}

const headings = ["model", "turns", "steps", "input", "cached", "output", "reasoning"];

function renderTable(report: UsageReport, since: string): string {
  const heading = `Model usage since ${new Date(report.sinceMs).toISOString().slice(0, 16).replace("T", " ")} UTC (${since}), by ${report.by}`;
  if (report.rows.length === 0) return `${heading}: none.\n`;
  const cells = (entry: Omit<UsageRow, "group" | "model">) => [
    count(entry.turns),
    count(entry.steps),
    count(entry.inputTokens),
    count(entry.cachedInputTokens),
    count(entry.outputTokens),
    count(entry.reasoningTokens),
    ...(report.priced ? [entry.cost === null ? "no price" : money(entry.cost)] : []),
  ];
  const lines = [
    [report.by, ...headings, ...(report.priced ? ["cost"] : [])],
    ...report.rows.map((entry) => [entry.group, entry.model, ...cells(entry)]),
    ["total", "", ...cells(report.total)],
  ];
  const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => (line[column] ?? "").length)));
  // Names left, numbers right.
  const render = (line: string[]) => line.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ").trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  const rows = lines.slice(1, -1).map(render);
  const tokensOnly = report.priced ? "" : "No prices set (THREADBOOK_MODEL_PRICES): tokens only.\n";
  return `${heading}:\n\n${render(lines[0]!)}\n${rule}\n${rows.join("\n")}\n${rule}\n${render(lines.at(-1)!)}\n\n${tokensOnly}`;
}

function count(value: number): string {
  return value.toLocaleString("en-US");
}

function money(value: number): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
