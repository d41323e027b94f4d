/**
 * How often the status message may be edited. Discord limits edits of a
 * message to about five in five seconds; the budget allows a few at once
 * (so a quick first cell shows as it starts) and one every 1.5 s on
 * average, leaving room for the edit that puts the answer in its place.
 */

/** Edits allowed within one window. */
export const editsPerWindow = 4;
/** The window: four edits in six seconds, one every 1.5 s on average. */
export const editWindowMs = 6_000;

export class EditBudget {
  readonly #now: () => number;
  /** When the edits still inside the window were made, oldest first. */
  readonly #spent: number[] = [];

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Milliseconds until an edit is allowed: 0 when one is allowed now. */
  wait(): number {
    this.#forgetOld();
    if (this.#spent.length < editsPerWindow) return 0;
    return Math.max(0, (this.#spent[0] ?? 0) + editWindowMs - this.#now());
  }

  /** Records an edit made now. */
  spend(): void {
    this.#spent.push(this.#now());
  }

  #forgetOld(): void {
    const cutoff = this.#now() - editWindowMs;
    while (this.#spent.length > 0 && (this.#spent[0] ?? 0) <= cutoff) this.#spent.shift();
  }
}
