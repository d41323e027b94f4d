/**
 * Every SQL statement of the SQLite store (sqlite-store.ts), prepared once
 * per connection: the store's SQL apart from what it does with the rows.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { UsageGrouping } from "./store.ts";

export function prepareStatements(database: DatabaseSync) {
  const prepare = (sql: string): StatementSync => database.prepare(sql);
  return {
    getConversation: prepare(
      "SELECT key, created_at, updated_at, session_id, session_bound_at FROM conversations WHERE key = ?",
    ),
    touchConversation: prepare(
      `INSERT INTO conversations (key, created_at, updated_at) VALUES (:key, :now, :now)
       ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at`,
    ),
    listBoundConversations: prepare(
      "SELECT key, created_at, updated_at, session_id, session_bound_at FROM conversations WHERE session_id IS NOT NULL ORDER BY key",
    ),
    ping: prepare("SELECT 1 AS ok"),
    bindSession: prepare("UPDATE conversations SET session_id = ?, session_bound_at = ? WHERE key = ?"),
    deleteTranscript: prepare("DELETE FROM transcript_items WHERE conversation_key = ?"),
    nextTranscriptSeq: prepare(
      "SELECT coalesce(max(seq), -1) + 1 AS seq FROM transcript_items WHERE conversation_key = ?",
    ),
    insertTranscriptItem: prepare(
      "INSERT INTO transcript_items (conversation_key, seq, turn_id, item_json, created_at) VALUES (?, ?, ?, ?, ?)",
    ),
    loadTranscript: prepare("SELECT item_json FROM transcript_items WHERE conversation_key = ? ORDER BY seq"),
    insertTurn: prepare(
      `INSERT INTO turns (id, conversation_key, user_platform, user_id, user_workspace, user_display_name, text, started_at, status, holder)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
    ),
    finishTurn: prepare("UPDATE turns SET finished_at = ?, status = ?, limit_name = ?, limit_budget = ?, error = ? WHERE id = ?"),
    getTurn: prepare(
      `SELECT id, conversation_key, user_platform, user_id, user_workspace, user_display_name, text, started_at, finished_at, status, limit_name, limit_budget, error
       FROM turns WHERE id = ?`,
    ),
    countTurnsSince: prepare(
      "SELECT count(*) AS turns, min(started_at) AS oldest FROM turns WHERE user_platform = ? AND user_id = ? AND started_at >= ?",
    ),
    countRunningElsewhere: prepare("SELECT count(*) AS turns FROM turns WHERE status = 'running' AND user_platform = ? AND user_id = ? AND holder IS NOT ?"),
    dropLeases: prepare("DELETE FROM conversation_leases"),
    failRunningTurns: prepare(
      `UPDATE turns SET finished_at = ?, status = 'failed', error = ? WHERE status = 'running'
       RETURNING id, conversation_key, user_platform, user_id, user_workspace, user_display_name, text, started_at, finished_at, status, limit_name, limit_budget, error`,
    ),
    insertModelUsage: prepare(
      `INSERT INTO model_usage (at, turn_id, conversation_key, user_platform, user_id, user_workspace, model,
         input_tokens, cached_input_tokens, output_tokens, reasoning_tokens)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    userTokensSince: prepare(
      "SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens FROM model_usage WHERE user_platform = ? AND user_id = ? AND at >= ?",
    ),
    workspaceTokensSince: prepare(
      "SELECT coalesce(sum(input_tokens + output_tokens), 0) AS tokens FROM model_usage WHERE user_platform = ? AND user_workspace = ? AND at >= ?",
    ),
    ...usageTotalStatements(prepare),
    insertCellRun: prepare(
      `INSERT INTO cell_runs (conversation_key, turn_id, user, user_workspace, started_at, code, outcome, duration_ms, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    listCellRuns: prepare(
      `SELECT id, conversation_key, turn_id, user, user_workspace, started_at, code, outcome, duration_ms, error
       FROM cell_runs
       WHERE (:conversationKey IS NULL OR conversation_key = :conversationKey)
         AND (:turnId IS NULL OR turn_id = :turnId)
         AND (:since IS NULL OR started_at >= :since)
         AND (:user IS NULL OR user = :user OR substr(user, instr(user, ':') + 1) = :user)
       ORDER BY id`,
    ),
    insertAttachment: prepare(
      `INSERT INTO attachments (conversation_key, name, bytes, sha256, created_at, path)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    listAttachments: prepare(
      `SELECT id, conversation_key, name, bytes, sha256, created_at, path
       FROM attachments WHERE conversation_key = ? ORDER BY id`,
    ),
    deleteAttachments: prepare("DELETE FROM attachments WHERE conversation_key = ?"),
    upsertSnapshot: prepare(
      `INSERT INTO snapshots (conversation_key, data, names_json, skipped_json, note, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (conversation_key) DO UPDATE SET data = excluded.data, names_json = excluded.names_json,
         skipped_json = excluded.skipped_json, note = excluded.note, created_at = excluded.created_at`,
    ),
    loadSnapshot: prepare("SELECT conversation_key, data, names_json, skipped_json, note, created_at FROM snapshots WHERE conversation_key = ?"),
    deleteSnapshot: prepare("DELETE FROM snapshots WHERE conversation_key = ?"),
    claimEvent: prepare("INSERT OR IGNORE INTO event_claims (key, claimed_at) VALUES (?, ?)"),
    pruneEvents: prepare("DELETE FROM event_claims WHERE claimed_at < ?"),
    pruneAttachments: prepare("DELETE FROM attachments WHERE created_at < ? RETURNING path"),
    pruneTranscripts: prepare("DELETE FROM transcript_items WHERE turn_id IN (SELECT id FROM turns WHERE started_at < ?)"),
    blankQuestions: prepare("UPDATE turns SET text = '' WHERE started_at < ? AND text != ''"),
    pruneCellRuns: prepare("DELETE FROM cell_runs WHERE started_at < ?"),
    upsertFeedback: prepare(
      `INSERT INTO feedback (turn_id, user_platform, user_id, user_workspace, user_display_name, rating, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (turn_id, user_platform, user_id) DO UPDATE SET
         rating = excluded.rating, created_at = excluded.created_at,
         user_workspace = excluded.user_workspace, user_display_name = excluded.user_display_name`,
    ),
    listFeedback: prepare(
      `SELECT turn_id, user_platform, user_id, user_workspace, user_display_name, rating, created_at
       FROM feedback WHERE turn_id = ? ORDER BY created_at, rowid`,
    ),
  };
}

/** The ledger's group of a row, per grouping; SQL text chosen from this fixed map, never from input. */
const usageGroups: Record<UsageGrouping, string> = {
  user: "user_platform || ':' || user_id",
  workspace: "CASE WHEN user_workspace IS NULL THEN user_platform ELSE user_platform || ':' || user_workspace END",
  conversation: "conversation_key",
  day: "strftime('%Y-%m-%d', at / 1000, 'unixepoch')",
};

function usageTotalStatements(prepare: (sql: string) => StatementSync): Record<`usageBy_${UsageGrouping}`, StatementSync> {
  const statement = (grouping: UsageGrouping) =>
    prepare(
      `SELECT ${usageGroups[grouping]} AS grouped, model, count(DISTINCT turn_id) AS turns, count(*) AS steps,
         sum(input_tokens) AS input_tokens, sum(cached_input_tokens) AS cached_input_tokens,
         sum(output_tokens) AS output_tokens, sum(reasoning_tokens) AS reasoning_tokens
       FROM model_usage WHERE at >= ? GROUP BY grouped, model ORDER BY grouped, model`,
    );
  return { usageBy_user: statement("user"), usageBy_workspace: statement("workspace"), usageBy_conversation: statement("conversation"), usageBy_day: statement("day") };
}

export type Statements = ReturnType<typeof prepareStatements>;
