/**
 * The core's seam for measurements: the agent tells an observer what it
 * did (a turn or a cell ended, a model request returned, a session was
 * restarted) and the observer counts it. The core knows no metrics library;
 * the one implementation today is the Prometheus registry (src/ops/metrics.ts).
 * Calls are synchronous and must not throw: an observer is told, never asked.
 * Nothing here names a user, a conversation or a workspace.
 */
import type { CellOutcome } from "../store/store.ts";

/**
 * How a turn ended: answered; cut short by a per-turn limit; failed (the
 * model service, Docker); stopped by a person; refused before it ran (busy,
 * a user over a limit, shutting down).
 */
export type TurnEnd = "answered" | "limit" | "failed" | "stopped" | "refused";

/** How a model request ended: an answer came; it failed; the turn abandoned it (a stop, the turn's time). */
export type ModelRequestEnd = "ok" | "error" | "abandoned";

/** Why a session's container was replaced under a cell. */
export type RestartReason = "timeout" | "stopped" | "died";

/** Tokens of one model step; `cachedInputTokens` is the part of the input the service read from its cache, where it says. */
export interface StepTokens {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
}

export interface TurnObserver {
  /** A turn ended; `seconds` from its arrival (queue wait included) to its reply; a refused turn is not timed. */
  turnEnded(end: TurnEnd, seconds: number | null): void;
  /** A cell ended after `seconds` of running. */
  cellEnded(outcome: CellOutcome, seconds: number): void;
  modelRequestEnded(end: ModelRequestEnd, tokens: StepTokens | null): void;
  sessionRestarted(reason: RestartReason): void;
}

export const silentObserver: TurnObserver = {
  turnEnded: () => undefined,
  cellEnded: () => undefined,
  modelRequestEnded: () => undefined,
  sessionRestarted: () => undefined,
};
