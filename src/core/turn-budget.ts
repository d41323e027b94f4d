/**
 * The per-turn limits: model steps, cells, wall-clock time and tokens. A
 * limit of 0 means none. When one is reached the turn ends with what was
 * done, and a sentence names the limit and the setting that raises it.
 */
import type { Config } from "../config.ts";
import { formatDuration } from "./format-size.ts";
import type { LimitName } from "./turn.ts";

export type TurnLimits = Config["turn"];

export class TurnBudget {
  readonly #limits: TurnLimits;
  readonly #startedAt: number;
  steps = 0;
  cells = 0;
  tokens = 0;

  constructor(limits: TurnLimits, startedAt = performance.now()) {
    this.#limits = limits;
    this.#startedAt = startedAt;
  }

  /** The limit that forbids another model step, if any. */
  beforeStep(): LimitName | null {
    if (this.remainingMs() <= 0) return "time";
    if (reached(this.steps, this.#limits.maxSteps)) return "steps";
    if (reached(this.tokens, this.#limits.maxTokens)) return "tokens";
    return null;
  }

  /** The limit that forbids another cell, if any. */
  beforeCell(): LimitName | null {
    if (this.remainingMs() <= 0) return "time";
    if (reached(this.cells, this.#limits.maxCells)) return "cells";
    return null;
  }

  /** Time left in the turn; Infinity when it has no time limit. */
  remainingMs(): number {
    if (this.#limits.timeoutMs <= 0) return Infinity;
    return this.#limits.timeoutMs - (performance.now() - this.#startedAt);
  }

  /** What to tell the user, and the model next turn, when `limit` ended the turn. */
  explain(limit: LimitName): string {
    const advice = "Ask me to continue, or raise";
    switch (limit) {
      case "steps":
        return `I stopped after ${this.steps} model steps, the limit for one turn. ${advice} THREADBOOK_TURN_MAX_STEPS.`;
      case "cells":
        return `I stopped after running ${this.cells} cells, the limit for one turn. ${advice} THREADBOOK_TURN_MAX_CELLS.`;
      case "time":
        return `I stopped after ${formatDuration(this.#limits.timeoutMs)}, the time limit for one turn. ${advice} THREADBOOK_TURN_TIMEOUT_S.`;
      case "tokens":
        return `I stopped after using ${this.tokens.toLocaleString("en-US")} model tokens, the limit for one turn. ${advice} THREADBOOK_TURN_MAX_TOKENS.`;
      case "budget":
        // The daily budgets are the core's (token-budgets.ts), which says which one and when it renews.
        return "I stopped here: the daily budget of model tokens is used up.";
    }
  }
}

function reached(used: number, limit: number): boolean {
  return limit > 0 && used >= limit;
}
