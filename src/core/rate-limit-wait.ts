/**
 * How a model step the service rate-limits (429) is tried again inside a
 * turn: after the wait the service asks for (Retry-After), or, when it names
 * none, after 1, 2, 4 … seconds up to 30; at most `maxRateLimitRetries` times
 * a step, and never past the turn's deadline. A wait the turn cannot afford
 * ends the turn at once with a plain message, rather than waiting in vain.
 * An exhausted quota is no rate limit: it is not retried.
 */
import { ModelError } from "../errors.ts";
import { formatDuration } from "./format-size.ts";

export const maxRateLimitRetries = 6;
const firstBackoffMs = 1_000;
const longestBackoffMs = 30_000;

export type RateLimitDecision = { waitMs: number } | { giveUp: ModelError };

/** What to do about `error` on try `attempt` (1 for the first), or null when it is no rate limit to wait out. */
export function rateLimitDecision(error: unknown, attempt: number, remainingMs: number): RateLimitDecision | null {
  if (!(error instanceof ModelError) || error.code !== "model_rate_limited" || !error.retryable) return null;
  const details = { ...error.details, attempt };
  if (attempt > maxRateLimitRetries) {
    return { giveUp: new ModelError("model_rate_limited", `The model service stayed busy (429) through ${attempt} tries. Try again in a few minutes.`, { retryable: true, details, cause: error }) };
  }
  const waitMs = error.retryAfterMs ?? Math.min(longestBackoffMs, firstBackoffMs * 2 ** (attempt - 1));
  if (waitMs >= remainingMs) {
    const left = Number.isFinite(remainingMs) ? ` (${formatDuration(Math.max(0, remainingMs))})` : "";
    return {
      giveUp: new ModelError(
        "model_rate_limited",
        `The model service is busy (429) and asked to wait ${formatDuration(waitMs)}, longer than this question has left${left}. Try again in a few minutes.`,
        { retryable: true, details: { ...details, waitMs }, cause: error },
      ),
    };
  }
  return { waitMs };
}
