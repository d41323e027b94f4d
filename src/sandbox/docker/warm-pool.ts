/**
 * One engine's warm pool: containers started ahead, their kernels with the
 * data stack imported, so a new conversation's first cell does not wait for
 * a container to start. Filled one container at a time in the background
 * after each claim; a warm container found dead (its engine restarted) is
 * dropped, not handed out.
 */
import type { Logger } from "../../log.ts";
import { dockerCall } from "./docker-failure.ts";
import type { LiveContainer } from "./docker-session.ts";

export interface WarmPoolOptions {
  /** How many containers to keep warm; 0 for none. */
  size: number;
  /** Starts one warm container under a name of its own. */
  start: () => Promise<LiveContainer>;
  /** Closes a container's channel, removes it and whatever it holds (its door out). */
  discard: (live: LiveContainer) => Promise<void>;
  logger: Logger;
}

/** Starts in a row that fail before the pool stops trying until the next claim. */
const maxFailuresInARow = 3;

export class WarmPool {
  readonly #options: WarmPoolOptions;
  readonly #containers: LiveContainer[] = [];
  #filling: Promise<void> | undefined;
  #closing = false;

  constructor(options: WarmPoolOptions) {
    this.#options = options;
  }

  /** Warm containers ready now. */
  get warm(): number {
    return this.#containers.length;
  }

  /** Starts filling the pool in the background, unless it is already being filled or closed. */
  fill(): void {
    if (this.#filling || this.#closing) return;
    this.#filling = (async () => {
      let failures = 0;
      while (!this.#closing && this.#containers.length < this.#options.size && failures < maxFailuresInARow) {
        try {
          const live = await this.#options.start();
          if (this.#closing) {
            await this.#options.discard(live);
          } else {
            this.#containers.push(live);
          }
        } catch (error) {
          failures += 1;
          this.#options.logger.error({ err: error }, "could not start a warm container");
        }
      }
    })().finally(() => { this.#filling = undefined; });
  }

  /** Fills the pool and waits until it is full; false when starting containers failed (see the log). */
  async warmUp(): Promise<boolean> {
    this.fill();
    await this.#filling;
    return this.#containers.length >= this.#options.size || this.#closing;
  }

  /**
   * A warm container renamed to `name`, or undefined when none is left; the
   * pool is filled again behind it either way. One that is gone or cannot be
   * renamed is removed and the next tried.
   */
  async claim(name: string): Promise<LiveContainer | undefined> {
    try {
      for (let warm = this.#containers.shift(); warm !== undefined; warm = this.#containers.shift()) {
        // A warm container whose channel closed (its engine restarted, or it died) is no session.
        if (warm.channel.closed) {
          this.#options.logger.info("dropping a warm container that is gone");
          void this.#options.discard(warm);
          continue;
        }
        try {
          await dockerCall("Claiming a warm session", warm.container.rename({ name }));
          return warm;
        } catch (error) {
          this.#options.logger.warn({ err: error }, "a warm container could not be claimed; starting one");
          void this.#options.discard(warm);
        }
      }
      return undefined;
    } finally {
      this.fill();
    }
  }

  /** Stops filling and removes every warm container. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#filling?.catch(() => undefined);
    await Promise.all(this.#containers.splice(0).map((live) => this.#options.discard(live)));
  }
}
