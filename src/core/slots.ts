/**
 * At most `size` holders at once; the others wait in arrival order. A waiter
 * whose signal aborts leaves the line and rejects with the signal's reason.
 */
export class Slots {
  readonly #size: number;
  readonly #waiting: { admit: () => void }[] = [];
  #held = 0;

  constructor(size: number) {
    this.#size = Math.max(1, size);
  }

  /** Holders now, for tests and logs. */
  get held(): number {
    return this.#held;
  }

  /** Resolves with a release function once a slot is free; calling it again does nothing. */
  async take(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#held < this.#size && this.#waiting.length === 0) return this.#hold();
    return new Promise((resolve, reject) => {
      const waiter = {
        admit: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#hold());
        },
      };
      const onAbort = () => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(signal?.reason);
      };
      this.#waiting.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #hold(): () => void {
    this.#held += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held -= 1;
      if (this.#held < this.#size) this.#waiting.shift()?.admit();
    };
  }
}
