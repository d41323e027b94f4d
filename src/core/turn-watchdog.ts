/**
 * The last line of defence under a turn: every wait below it has its own
 * deadline, but a turn that still reports no progress for `stallMs` (longer
 * than any one cell or model step may take) is stopped as a person's Stop
 * would; one that does not end within `graceMs` after that is abandoned: the
 * caller gets `abandon()`'s reply at once, so the turn's slot is freed, and
 * what was left running unwinds in the background.
 */
export interface WatchdogOptions<T> {
  /** When the turn last showed progress (epoch ms). */
  lastProgressAt: () => number;
  stallMs: number;
  graceMs: number;
  /** Told once the turn stalled: stop it. */
  onStall: () => void;
  /** The reply for a turn that did not end after being stopped (its session replaced there). */
  abandon: () => Promise<T>;
}

export async function watchTurn<T>(work: Promise<T>, options: WatchdogOptions<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let stalledAt: number | undefined;
  const abandoned = new Promise<"abandoned">((resolve) => {
    const check = () => {
      const now = Date.now();
      if (stalledAt === undefined && now - options.lastProgressAt() >= options.stallMs) {
        stalledAt = now;
        options.onStall();
      }
      if (stalledAt !== undefined && now - stalledAt >= options.graceMs) return resolve("abandoned");
      const next = stalledAt === undefined ? options.lastProgressAt() + options.stallMs - now : stalledAt + options.graceMs - now;
      timer = setTimeout(check, Math.max(10, Math.min(next, 2 ** 31 - 1)));
    };
    timer = setTimeout(check, Math.max(10, Math.min(options.stallMs, 2 ** 31 - 1)));
  });
  work.catch(() => undefined);
  try {
    const outcome = await Promise.race([work, abandoned]);
    return outcome === "abandoned" ? await options.abandon() : (outcome as T);
  } finally {
    clearTimeout(timer);
  }
}
