/**
 * Progress as the core uses it: events reach the adapter one at a time, in
 * order, without the turn waiting for them, and an adapter that throws or
 * rejects is logged, never allowed to break the turn.
 */
import { within } from "../deadline.ts";
import type { Logger } from "../log.ts";
import type { Progress, ProgressEvent } from "./turn.ts";

/** How long the end of a turn waits for an adapter still showing earlier events. */
const flushTimeoutMs = 5_000;

export class SafeProgress {
  readonly #progress: Progress;
  readonly #logger: Logger;
  #chain: Promise<void> = Promise.resolve();
  /** When the turn last reported anything (epoch ms): what the watchdog reads. */
  lastReportAt = Date.now();

  constructor(progress: Progress, logger: Logger) {
    this.#progress = progress;
    this.#logger = logger;
  }

  report(event: ProgressEvent): void {
    this.lastReportAt = Date.now();
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#progress.report(event);
      } catch (error) {
        this.#logger.warn({ err: error, event: event.type }, "the adapter failed to show progress");
      }
    });
  }

  /** Settles once every event reported so far was handled, or after a few seconds. */
  async flush(): Promise<void> {
    await within(this.#chain, flushTimeoutMs);
  }
}
