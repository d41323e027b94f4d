/**
 * The egress seam: every request through a session's door out, allowed or
 * refused, as the audit keeps it (`threadbook audit --egress`). The core
 * bounds every field before it is recorded; a conversation's reset keeps them.
 */
import type { UserRecord } from "./store.ts";

export interface EgressRequestInput {
  conversationKey: string;
  /** The turn that held the session; null when none did. */
  turnId: string | null;
  user: UserRecord;
  /** "CONNECT" for a tunnel, else the HTTP method. */
  method: string;
  host: string;
  port: number;
  /** The address connected to; null when refused before connecting. */
  address: string | null;
  allowed: boolean;
  /** Why it was refused or cut; null when it ran to its end. */
  reason: string | null;
  bytesOut: number;
  bytesIn: number;
  startedAt: number;
  durationMs: number;
}

export interface EgressRequestRecord extends Omit<EgressRequestInput, "user"> {
  /** "platform:id", e.g. "slack:U123". */
  user: string;
  workspace: string | null;
}

export interface EgressRequestFilter {
  /** Requests started at or after this time (epoch ms). */
  since?: number;
  /** "platform:id", or the bare id on any platform. */
  user?: string;
  conversationKey?: string;
}

export interface EgressStore {
  /** Adds one request to the audit. */
  recordRequest(request: EgressRequestInput): Promise<void>;
  /** Requests matching every given field, oldest first. */
  listRequests(filter?: EgressRequestFilter): Promise<EgressRequestRecord[]>;
}
