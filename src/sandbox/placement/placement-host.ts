/**
 * One engine as the placement sees it: a Sandbox of its own (its warm pool,
 * its sessions, its `maxSessions`), and what placing a session there needs
 * to know. Docker implements it (docker/docker-sandbox.ts); the placement
 * never sees Docker.
 */
import type { Sandbox } from "../sandbox.ts";
import type { SessionCensus } from "../session-census.ts";

export interface PlacementHost extends Sandbox {
  /** Resolves while the engine answers within `withinMs`; rejects with a `docker_unavailable` SandboxError when it does not. */
  ping(withinMs?: number): Promise<void>;
  /** Session slots taken now (sessions starting included), and how many there are (Infinity: unbounded). */
  capacity(): { live: number; max: number };
  /** Whether the conversation has a running session on this engine, one this process started or not. */
  holds(conversationKey: string): Promise<boolean>;
}

/** A host once started: its sandbox, and the census an operator sees of it. */
export interface StartedHost {
  sandbox: PlacementHost;
  census: SessionCensus;
}

/** An engine the placement may use: a name for logs and messages (its address), and how to start it. */
export interface HostEntry {
  name: string;
  /** Starts the host's sandbox; called again later while it fails (the engine down at start). */
  start(): Promise<StartedHost>;
}
