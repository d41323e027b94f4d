/**
 * Work at once, across every conversation (the agent keeps one gate for
 * turns, bounded by sessions, and one for cells, bounded by CPUs): at most
 * `maxRunning` run, and up to `maxQueued` wait for a slot in arrival order
 * (FIFO), each told its place whenever it changes. When the queue is full
 * the work is refused at once rather than piling up.
 */
export interface GateOptions {
  maxRunning: number;
  maxQueued: number;
}

interface Waiter {
  admit(): void;
  onPosition(ahead: number): void;
}

/** A slot held by a running turn; `leave` frees it for the next in line (calling it again does nothing). */
export interface GateSlot {
  leave(): void;
}

export class GateFullError extends Error {
  constructor() {
    super("every turn slot is taken and the queue is full");
    this.name = "GateFullError";
  }
}

export class TurnGate {
  readonly #options: GateOptions;
  readonly #queue: Waiter[] = [];
  #running = 0;

  constructor(options: GateOptions) {
    this.#options = options;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * A slot, at once or after the turns ahead. `onPosition` is told how many
   * wait ahead (0: next) when the turn must wait and each time that changes.
   * Throws GateFullError when the queue is full; an aborted `signal` takes the
   * turn out of the queue and rejects with the signal's reason.
   */
  enter(onPosition: (ahead: number) => void, signal?: AbortSignal): Promise<GateSlot> {
    if (this.#running < this.#options.maxRunning && this.#queue.length === 0) return Promise.resolve(this.#slot());
    if (this.#queue.length >= this.#options.maxQueued) return Promise.reject(new GateFullError());
    signal?.throwIfAborted();
    return new Promise<GateSlot>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#queue.indexOf(waiter);
        if (index < 0) return;
        this.#queue.splice(index, 1);
        this.#tellPositions(index);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        admit: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#slot());
        },
        onPosition,
      };
      this.#queue.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      onPosition(this.#queue.length - 1);
    });
  }

  #slot(): GateSlot {
    this.#running += 1;
    let left = false;
    return {
      leave: () => {
        if (left) return;
        left = true;
        this.#running -= 1;
        this.#admitNext();
      },
    };
  }

  #admitNext(): void {
    if (this.#running >= this.#options.maxRunning) return;
    const next = this.#queue.shift();
    if (next === undefined) return;
    next.admit();
    this.#tellPositions(0);
  }

  /** Tells the waiters from `from` on their new place. */
  #tellPositions(from: number): void {
    for (let index = from; index < this.#queue.length; index++) this.#queue[index]!.onPosition(index);
  }
}
