/**
 * What an operator sees of the sandbox: the session containers running now
 * and what each uses, and whether the engine answers. Beside the Sandbox
 * seam, not in it: a turn never needs it. Docker today
 * (docker/docker-session-census.ts).
 */

export interface LiveSession {
  /** The session's id (its container's), as the store binds it to a conversation. */
  id: string;
  /** The engine it runs on: DOCKER_HOST, or "local" for the default socket. */
  host: string;
  /** Memory it uses now, page cache left out; null when the engine does not say. */
  memoryBytes: number | null;
  /** Its memory limit; null when the engine does not say. */
  memoryLimitBytes: number | null;
}

export interface SessionCensus {
  /** The session containers running now (this process's and those another left running). */
  liveSessions(): Promise<LiveSession[]>;
  /** How many session containers are live and how many warm, from memory: cheap enough for every scrape. */
  counts(): { live: number; warm: number };
  /** Resolves while the engine answers; rejects when it does not answer within a few seconds. */
  ping(): Promise<void>;
}
