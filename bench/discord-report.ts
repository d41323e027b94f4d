/**
 * The Discord figures for the report: median, p90 and p95 of each (the
 * deferral's target is a 95th percentile), and the targets of issue 9.
 */
import type { DiscordMeasurements } from "./discord-bench.ts";
import { roundMs, summarize } from "./statistics.ts";

export const DISCORD_TARGETS = {
  /** `deferralMs` p95 under this. */
  deferralP95Ms: 500,
  /** `adapterOverheadMs` median under this. */
  adapterOverheadMs: 50,
};

export interface DiscordFigure {
  median: number;
  p90: number;
  p95: number;
  count: number;
}

export type DiscordFigures = Record<keyof DiscordMeasurements, DiscordFigure> & { targets: typeof DISCORD_TARGETS };

export function discordFigures(measured: DiscordMeasurements): DiscordFigures {
  const figure = (samples: number[]): DiscordFigure => {
    const summary = summarize(samples);
    const sorted = [...samples].sort((a, b) => a - b);
    const p95 = sorted[Math.max(1, Math.ceil(0.95 * sorted.length)) - 1] ?? Number.NaN;
    return { median: roundMs(summary.median), p90: roundMs(summary.p90), p95: roundMs(p95), count: summary.count };
  };
  return {
    deferralMs: figure(measured.deferralMs),
    statusPostedMs: figure(measured.statusPostedMs),
    firstEditMs: figure(measured.firstEditMs),
    discordTurnMs: figure(measured.discordTurnMs),
    coreTurnMs: figure(measured.coreTurnMs),
    adapterOverheadMs: figure(measured.adapterOverheadMs),
    targets: DISCORD_TARGETS,
  };
}

/** Rows for the table: label, median, p90, p95, samples, note. */
export function discordRows(figures: DiscordFigures, ms: (value: number) => string): string[] {
  const verdict = (met: boolean) => (met ? "met" : "NOT met");
  const row = (label: string, name: keyof DiscordMeasurements, note = "") => {
    const figure = figures[name];
    return `  ${label.padEnd(34)}${ms(figure.median).padStart(11)}${ms(figure.p90).padStart(11)}${String(figure.count).padStart(8)}   ${note}`.trimEnd();
  };
  return [
    "Discord: /ask in a thread, a one-cell turn, the Discord emulator on loopback",
    row("interaction → deferral", "deferralMs", `p95 ${ms(figures.deferralMs.p95)}; target p95 < ${DISCORD_TARGETS.deferralP95Ms} ms: ${verdict(figures.deferralMs.p95 < DISCORD_TARGETS.deferralP95Ms)}`),
    row("interaction → status message", "statusPostedMs"),
    row("interaction → first progress edit", "firstEditMs"),
    row("interaction → reply in place", "discordTurnMs"),
    row("the same turn, core alone", "coreTurnMs"),
    row("adapter overhead a turn", "adapterOverheadMs", `target < ${DISCORD_TARGETS.adapterOverheadMs} ms: ${verdict(figures.adapterOverheadMs.median < DISCORD_TARGETS.adapterOverheadMs)}`),
  ];
}
