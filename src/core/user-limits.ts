/**
 * Each user's fair share of a workspace's bot: turns running or waiting at
 * once (this replica's, plus those running on other replicas sharing the
 * store), and turns per rolling hour (counted in the store, so neither a
 * restart nor a second replica resets them). A turn over either limit is refused with a polite message
 * that says when to try again.
 */
import type { Store, UserTurnCount } from "../store/store.ts";
import type { TurnUser } from "./turn.ts";

export interface UserLimitSettings {
  /** Turns one user may have running or waiting at once. */
  userMaxTurns: number;
  /** Turns one user may start per rolling hour; 0: no hourly limit. */
  userTurnsPerHour: number;
}

const hourMs = 60 * 60 * 1000;

/** A user's place in the limits, held while their turn runs or waits; `release` gives it back. */
export interface UserTicket {
  release(): void;
}

export class UserLimits {
  readonly #settings: UserLimitSettings;
  readonly #store: Store;
  /** Turns admitted and not yet over, by user. */
  readonly #active = new Map<string, number>();
  /** Turns admitted but not yet recorded in the store, by user: the hourly count adds them. */
  readonly #unrecorded = new Map<string, number>();

  constructor(settings: UserLimitSettings, store: Store) {
    this.#settings = settings;
    this.#store = store;
  }

  /**
   * Admits a turn of `user`, or says why not. `recorded` must be called once
   * the turn is in the store (or will never be), so it is counted once.
   */
  async admit(user: TurnUser, now = Date.now()): Promise<{ ticket: UserTicket; recorded: () => void } | { refusal: string }> {
    const key = `${user.platform}:${user.id}`;
    const active = this.#active.get(key) ?? 0;
    if (active >= this.#settings.userMaxTurns) return { refusal: tooMany(active) };
    this.#active.set(key, active + 1);
    let elsewhere: number;
    try {
      elsewhere = await this.#store.userTurnsRunningElsewhere(user.platform, user.id);
    } catch (error) {
      this.#decrement(this.#active, key);
      throw error;
    }
    if (active + elsewhere >= this.#settings.userMaxTurns) {
      this.#decrement(this.#active, key);
      return { refusal: tooMany(active + elsewhere) };
    }
    if (this.#settings.userTurnsPerHour > 0) {
      let counted: UserTurnCount;
      try {
        counted = await this.#store.userTurnsSince(user.platform, user.id, now - hourMs);
      } catch (error) {
        this.#decrement(this.#active, key);
        throw error;
      }
      const started = counted.count + (this.#unrecorded.get(key) ?? 0);
      if (started >= this.#settings.userTurnsPerHour) {
        this.#decrement(this.#active, key);
        // A slot frees when the oldest turn of the window turns an hour old.
        const minutes = Math.max(1, Math.ceil(((counted.oldestStartedAt ?? now) + hourMs - now) / 60_000));
        return { refusal: `You have asked ${started} questions in the past hour, the most one person may. Try again in ${minutes === 1 ? "a minute" : `${minutes} minutes`}.` };
      }
    }
    this.#unrecorded.set(key, (this.#unrecorded.get(key) ?? 0) + 1);
    let recorded = false;
    let released = false;
    return {
      ticket: { release: () => {
        if (!released) this.#decrement(this.#active, key);
        released = true;
      } },
      recorded: () => {
        if (!recorded) this.#decrement(this.#unrecorded, key);
        recorded = true;
      },
    };
  }

  #decrement(map: Map<string, number>, key: string): void {
    const value = (map.get(key) ?? 0) - 1;
    if (value <= 0) map.delete(key);
    else map.set(key, value);
  }
}

function tooMany(active: number): string {
  const many = active === 1 ? "a question" : `${active} questions`;
  return `You already have ${many} running or waiting. Ask again when ${active === 1 ? "it has" : "one has"} finished.`;
}
