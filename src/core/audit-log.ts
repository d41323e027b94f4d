/**
 * The audit log as an operator reads it (`threadbook audit`): one record per
 * cell run, who ran it, where, the code, how it ended and how long it took,
 * oldest first. The store keeps the runs; a conversation's reset keeps them.
 */
import type { CellOutcome, Store } from "../store/store.ts";

export interface AuditQuery {
  /** Runs started at or after this time (epoch ms). */
  since?: number;
  /** "platform:id", or the bare id on any platform. */
  user?: string;
  conversation?: string;
}

export interface AuditRecord {
  /** When the cell started, epoch ms. */
  startedAt: number;
  /** "platform:id", e.g. "slack:U123". */
  user: string;
  /** The Slack team or Discord guild; null where the platform has none. */
  workspace: string | null;
  conversation: string;
  turn: string;
  code: string;
  outcome: CellOutcome;
  durationMs: number;
  /** The traceback or timeout note; null when the cell ran clean. */
  error: string | null;
}

export async function readAuditLog(store: Store, query: AuditQuery): Promise<AuditRecord[]> {
  const runs = await store.listCellRuns({
    ...(query.since === undefined ? {} : { since: query.since }),
    ...(query.user === undefined ? {} : { user: query.user }),
    ...(query.conversation === undefined ? {} : { conversationKey: query.conversation }),
  });
  return runs.map((run) => ({
    startedAt: run.startedAt,
    user: run.user,
    workspace: run.workspace,
    conversation: run.conversationKey,
    turn: run.turnId,
    code: run.code,
    outcome: run.outcome,
    durationMs: run.durationMs,
    error: run.error,
  }));
}
