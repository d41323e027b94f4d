/** Waiting for something, but not for ever. */

/** What `within` gives when time ran out first. */
export const timedOut = Symbol("timed out");

/**
 * The promise's value, or `timedOut` when it has not settled within
 * `milliseconds`. The promise itself goes on; its rejection still rejects.
 */
export function within<T>(promise: Promise<T>, milliseconds: number): Promise<T | typeof timedOut> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof timedOut>((resolve) => { timer = setTimeout(() => resolve(timedOut), milliseconds); });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
