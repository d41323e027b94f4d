/**
 * One piece of work at a time per key, in arrival order; other keys run
 * alongside. The core runs one turn at a time per conversation with it, the
 * sandbox one acquire or release at a time per session.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, { promise: Promise<unknown>; waiting: number }>();

  /**
   * Runs `work` after every earlier piece of work for `key` has settled.
   * `onQueued` is told, at once, how many are ahead when it must wait.
   */
  run<T>(key: string, work: () => Promise<T>, onQueued?: (ahead: number) => void): Promise<T> {
    const tail = this.#tails.get(key);
    const ahead = tail?.waiting ?? 0;
    const previous = tail?.promise ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const entry = { promise: next, waiting: ahead + 1 };
    this.#tails.set(key, entry);
    const settled = () => {
      const current = this.#tails.get(key);
      if (current === undefined) return;
      current.waiting -= 1;
      if (current.waiting === 0) this.#tails.delete(key);
    };
    next.then(settled, settled);
    if (ahead > 0) onQueued?.(ahead);
    return next;
  }

  /** Turns running or waiting for `key`. */
  pending(key: string): number {
    return this.#tails.get(key)?.waiting ?? 0;
  }

  /** Settles when every conversation's work has settled, including work queued meanwhile. */
  async drained(): Promise<void> {
    while (this.#tails.size > 0) {
      await Promise.allSettled([...this.#tails.values()].map((tail) => tail.promise));
    }
  }
}
