/**
 * Readiness: whether the bot can answer a question now. Each check either
 * resolves (ready) or rejects with why not, within a deadline, all at once.
 */
import { timedOut, within } from "../deadline.ts";
import { userMessage } from "../errors.ts";

export interface ReadinessCheck {
  /** e.g. "store", "docker", "slack": what the 503's body names when it fails. */
  name: string;
  /** Resolves when ready; rejects (or resolves false) when not. */
  check(): Promise<boolean | void>;
}

export interface ReadinessReport {
  ready: boolean;
  /** What is not ready, each with why. */
  notReady: { name: string; reason: string }[];
}

/** A check that takes longer counts as not ready: a probe must answer quickly. */
const checkDeadlineMs = 3_000;

export async function checkReadiness(checks: readonly ReadinessCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async ({ name, check }) => {
    try {
      const outcome = await within(check(), checkDeadlineMs);
      if (outcome === timedOut) return { name, reason: `did not answer within ${checkDeadlineMs / 1000} s` };
      return outcome === false ? { name, reason: "not connected" } : null;
    } catch (error) {
      return { name, reason: userMessage(error) };
    }
  }));
  const notReady = results.filter((result) => result !== null);
  return { ready: notReady.length === 0, notReady };
}
