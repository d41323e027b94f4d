/** Samples in milliseconds and what the report shows of them. */

export interface Summary {
  median: number;
  p90: number;
  min: number;
  max: number;
  count: number;
}

/** Nearest-rank percentile of sorted samples; `fraction` in (0, 1]. */
export function percentile(sorted: readonly number[], fraction: number): number {
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, p90: percentile(sorted, 0.9), min: sorted[0]!, max: sorted[sorted.length - 1]!, count: sorted.length };
}

/** Runs `work` and returns its result with the wall-clock milliseconds it took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** Milliseconds to three decimals: enough for a half-millisecond cell, no false precision. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
