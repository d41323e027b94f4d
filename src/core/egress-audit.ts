/**
 * The door-out audit as an operator reads it (`threadbook audit --egress`):
 * one record per request through a session's door, allowed or refused, who
 * and which conversation, host and port, bytes both ways and how long it
 * took, oldest first.
 */
import type { EgressRequestRecord } from "../store/egress-store.ts";
import type { Store } from "../store/store.ts";
import type { AuditQuery } from "./audit-log.ts";

export type EgressAuditRecord = EgressRequestRecord;

export function readEgressAudit(store: Store, query: AuditQuery): Promise<EgressAuditRecord[]> {
  return store.egress.listRequests({
    ...(query.since === undefined ? {} : { since: query.since }),
    ...(query.user === undefined ? {} : { user: query.user }),
    ...(query.conversation === undefined ? {} : { conversationKey: query.conversation }),
  });
}
