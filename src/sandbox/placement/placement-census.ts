/**
 * The census of several hosts as one: the sessions of every host that
 * answers (one that does not is left out of the listing, not a failure of
 * it), the counts summed, and ready while any host answers, since sessions
 * can then still be placed.
 */
import { SandboxError } from "../../errors.ts";
import type { LiveSession, SessionCensus } from "../session-census.ts";

export class PlacementCensus implements SessionCensus {
  readonly #censuses: () => readonly SessionCensus[];

  /** `censuses`: those of the hosts started so far, asked anew at every call. */
  constructor(censuses: () => readonly SessionCensus[]) {
    this.#censuses = censuses;
  }

  async liveSessions(): Promise<LiveSession[]> {
    const listed = await Promise.allSettled(this.#censuses().map((census) => census.liveSessions()));
    return listed.flatMap((outcome) => (outcome.status === "fulfilled" ? outcome.value : []));
  }

  counts(): { live: number; warm: number } {
    let live = 0;
    let warm = 0;
    for (const census of this.#censuses()) {
      const counts = census.counts();
      live += counts.live;
      warm += counts.warm;
    }
    return { live, warm };
  }

  async ping(): Promise<void> {
    const censuses = this.#censuses();
    if (censuses.length === 0) throw new SandboxError("docker_unavailable", "No Docker host of THREADBOOK_DOCKER_HOSTS has started yet.", { retryable: true });
    try {
      await Promise.any(censuses.map((census) => census.ping()));
    } catch (error) {
      // Every host failed: the first one's reason says it plainly.
      throw (error as AggregateError).errors[0];
    }
  }
}
