/**
 * What a session's door out may do while a turn holds the session: the
 * policy of the conversation's workspace, the limits, and where each request
 * is reported (the audit). Given on every acquire, so the per-turn byte count
 * starts afresh and the requests are reported as the current turn's.
 */
import type { EgressPolicy } from "./egress-policy.ts";

export interface EgressLimits {
  /** Bytes both ways through the door in one turn; past it connections are cut and new ones refused. */
  turnBytes: number;
  /** Requests (HTTP requests and tunnels) in any rolling minute; past it they are refused. */
  requestsPerMinute: number;
  /** How long one connection or tunnel may stay open. */
  connectionMs: number;
}

/** One request through the door, allowed or refused, as it ended. */
export interface EgressRequest {
  /** "CONNECT" for a tunnel (TLS, not looked into); else the HTTP method. */
  method: string;
  /** The host as asked for (lower-cased, at most 255 characters). */
  host: string;
  port: number;
  /** The address connected to; null when refused before connecting. */
  address: string | null;
  allowed: boolean;
  /** Why it was refused or cut, one line; null when it ran to its end. */
  reason: string | null;
  /** From the session out, and in to it. */
  bytesOut: number;
  bytesIn: number;
  startedAt: number;
  durationMs: number;
}

export interface EgressGrant {
  policy: EgressPolicy;
  limits: EgressLimits;
  /** Told of each request as it ends; must not throw. */
  record(request: EgressRequest): void;
}
