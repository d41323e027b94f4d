/**
 * The prompt-prefix figures for the report (issue 16), per API: how much of
 * the previous step's request each step repeats byte for byte from its start
 * (the prefix a provider can cache; target at least 95%), and the bytes of
 * the previous request it does not repeat; that repeated prefix as a share
 * of the step's own request (lowest and median over the five-cell turn, and
 * the follow-up turn's first step), whose ceiling is the previous request's
 * size over this one's since every step adds its new items; and the bytes
 * each step sends.
 */
import type { PrefixMeasurements } from "./prefix-bench.ts";

export const PREFIX_TARGETS = {
  /** Every step repeats at least this share of the previous step's request. */
  repeatShare: 0.95,
};

export interface PrefixFigure {
  api: string;
  /** Over the five-cell turn's steps 2 to 6: the lowest and the median share. */
  repeatShareMin: number;
  repeatShareMedian: number;
  /** The follow-up turn's first request against the turn's last one. */
  followUpRepeatShare: number;
  /** How much of the previous request each step repeats, lowest over both turns: the figure held against the target. */
  previousRepeatedMin: number;
  /** The most bytes of a previous request a step did not repeat. */
  unrepeatedBytesMax: number;
  /** The five-cell turn's steps 2 to 6: the previous request's bytes over the step's, the most the step's own share could be. */
  ceilingMin: number;
  /** Bytes of each request: the five-cell turn's six steps, then the follow-up's two. */
  stepBytes: number[];
}

export interface PrefixFigures {
  runs: PrefixFigure[];
  targets: typeof PREFIX_TARGETS;
}

const share = (value: number) => Math.round(value * 10_000) / 10_000;

export function prefixFigures(measured: PrefixMeasurements): PrefixFigures {
  return {
    runs: measured.runs.map((run) => {
      // repeatShares[i] is step i + 2 against step i + 1; the turn's own are the first turnSteps - 1.
      const turn = run.repeatShares.slice(0, run.turnSteps - 1);
      const sorted = [...turn].sort((a, b) => a - b);
      return {
        api: run.api,
        repeatShareMin: share(sorted[0] ?? Number.NaN),
        repeatShareMedian: share(sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN),
        followUpRepeatShare: share(run.repeatShares[run.turnSteps - 1] ?? Number.NaN),
        previousRepeatedMin: share(Math.min(...run.previousRepeated)),
        unrepeatedBytesMax: Math.max(...run.unrepeatedBytes),
        ceilingMin: share(Math.min(...turn.map((_, index) => (run.stepBytes[index] ?? 0) / (run.stepBytes[index + 1] ?? 1)))),
        stepBytes: run.stepBytes,
      };
    }),
    targets: PREFIX_TARGETS,
  };
}

export function prefixRows(figures: PrefixFigures): string[] {
  const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
  return [
    "Model requests of a five-cell turn (pandas, one cell a step), then a one-cell follow-up: the prefix a provider can cache",
    ...figures.runs.flatMap((run) => [
      `  ${`${run.api}: previous request repeated`.padEnd(44)}lowest ${percent(run.previousRepeatedMin)} (all but its last ${run.unrepeatedBytesMax} bytes at most); target >= ${percent(figures.targets.repeatShare)}: ${run.previousRepeatedMin >= figures.targets.repeatShare ? "met" : "NOT met"}`,
      `  ${`${run.api}: as a share of the step's request`.padEnd(44)}lowest ${percent(run.repeatShareMin)} (ceiling ${percent(run.ceilingMin)}), median ${percent(run.repeatShareMedian)}; follow-up turn's first step ${percent(run.followUpRepeatShare)}`,
      `  ${`${run.api}: bytes each step sends`.padEnd(44)}${run.stepBytes.map((bytes) => bytes.toLocaleString("en-US")).join(", ")}`,
    ]),
  ];
}
