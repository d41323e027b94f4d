/** The load benchmark's figures (load-bench.ts): time to answer at once beside a lone question's, and the bot's peak memory. */
import type { LoadRun } from "./load-bench.ts";
import { percentile, roundMs, summarize } from "./statistics.ts";

export const LOAD_TARGETS = {
  /** With the model taking 2 s a step: p95 of the questions at once at most this many times a lone question's median. */
  p95OverLone: 3,
};

export interface LoadFigures {
  modelDelayMs: number;
  questions: number;
  loneMedianMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  p95OverLone: number;
  /** The target on p95OverLone, for the run with a model of 2 s a step or slower; null otherwise. */
  targetP95OverLone: number | null;
  answeredOnce: number;
  toldWaiting: number;
  peakMemoryMb: number;
  /** What threads not answered once with the model's answer got instead (a few, cut short). */
  otherAnswers: string[];
}


export function loadFigures(run: LoadRun): LoadFigures {
  const lone = summarize(run.loneMs).median;
  const atOnce = summarize(run.atOnceMs);
  // Nearest-rank, as the other figures have it.
  const tail = percentile([...run.atOnceMs].sort((a, b) => a - b), 0.95);
  return {
    modelDelayMs: run.modelDelayMs,
    questions: run.questions,
    loneMedianMs: roundMs(lone),
    p50Ms: roundMs(atOnce.median),
    p95Ms: roundMs(tail),
    maxMs: roundMs(atOnce.max),
    p95OverLone: Math.round((tail / lone) * 10) / 10,
    targetP95OverLone: run.modelDelayMs >= 2000 ? LOAD_TARGETS.p95OverLone : null,
    answeredOnce: run.answeredOnce,
    toldWaiting: run.toldWaiting,
    peakMemoryMb: run.peakMemoryMb,
    otherAnswers: run.otherAnswers,
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The report's lines: one a model speed. */
export function loadRows(figures: readonly LoadFigures[]): string[] {
  return [
    "Questions at once through Slack against `threadbook start`, default settings, a one-cell turn each (time to answer)",
    `  ${"model".padEnd(22)}${"lone".padStart(9)}${"p50".padStart(9)}${"p95".padStart(9)}${"max".padStart(9)}   p95/lone  answered once  told they wait  bot's peak memory`,
    ...figures.map((figure) => {
      const label = `${figure.questions} at once, ${figure.modelDelayMs === 0 ? "model at once" : `${figure.modelDelayMs / 1000} s a step`}`;
      // A run where any thread went without its one answer meets no target, however fast.
      const met = figure.p95OverLone <= (figure.targetP95OverLone ?? 0) && figure.answeredOnce === figure.questions;
      const target = figure.targetP95OverLone === null ? "" : ` (target p95 <= ${figure.targetP95OverLone}x lone, every thread answered once: ${met ? "met" : "NOT met"})`;
      const others = figure.otherAnswers.map((text) => `\n      instead: ${text.replace(/\s+/g, " ")}`).join("");
      return `  ${label.padEnd(22)}${seconds(figure.loneMedianMs).padStart(9)}${seconds(figure.p50Ms).padStart(9)}${seconds(figure.p95Ms).padStart(9)}${seconds(figure.maxMs).padStart(9)}   ${`${figure.p95OverLone}x`.padStart(8)}  ${`${figure.answeredOnce}/${figure.questions}`.padStart(13)}  ${`${figure.toldWaiting}/${figure.questions}`.padStart(14)}  ${figure.peakMemoryMb} MB${target}${others}`;
    }),
  ];
}
