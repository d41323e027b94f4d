/**
 * Rows of the store's tables as records: one reading for every database, as
 * each database gives its rows as plain objects of the same column names
 * (a column of the wrong type means a damaged or foreign database).
 */
import type { EgressRequestRecord } from "./egress-store.ts";
import { integer, oneOf, optionalInteger, optionalOneOf, optionalText, text, type Row } from "./sqlite-rows.ts";
import type {
  AttachmentRecord,
  CellOutcome,
  CellRunRecord,
  ConversationRecord,
  FeedbackRating,
  FeedbackRecord,
  StoredTranscriptItem,
  TurnLimitName,
  TurnRecord,
  TurnStatus,
  UsageTotal,
  UserRecord,
} from "./store.ts";

/** What a turn a crash left running is failed with. */
export const interruptedTurnError = "interrupted by a restart";

export const turnStatuses: readonly TurnStatus[] = ["running", "answered", "limit", "failed"];
/** What turns.limit_name holds; "budget" is kept in limit_budget (schema version 6). */
export const limitNames: readonly TurnLimitName[] = ["steps", "cells", "time", "tokens"];
export const cellOutcomes: readonly CellOutcome[] = ["ok", "error", "timeout", "lost"];

/** The item's stored fields only: whatever else a caller's item carries (a result's images) is not saved. */
export function storedFields(item: StoredTranscriptItem): StoredTranscriptItem {
  switch (item.type) {
    case "user":
    case "assistant":
      return { type: item.type, text: item.text };
    case "code":
      return { type: "code", callId: item.callId, code: item.code };
    case "proposal":
      return { type: "proposal", callId: item.callId, arguments: item.arguments };
    case "result":
      return { type: "result", callId: item.callId, output: item.output };
    case "reasoning":
      return { type: "reasoning", id: item.id, encryptedContent: item.encryptedContent, summary: item.summary, model: item.model };
  }
}

export function toConversation(row: Row): ConversationRecord {
  return {
    key: text(row, "key"),
    createdAt: integer(row, "created_at"),
    updatedAt: integer(row, "updated_at"),
    sessionId: optionalText(row, "session_id"),
    sessionBoundAt: optionalInteger(row, "session_bound_at"),
  };
}

/** Who asked or gave feedback, from the user_* columns every such table has. */
export function toUser(row: Row): UserRecord {
  return {
    platform: text(row, "user_platform"),
    id: text(row, "user_id"),
    workspace: optionalText(row, "user_workspace"),
    displayName: optionalText(row, "user_display_name"),
  };
}

export function toTurn(row: Row): TurnRecord {
  return {
    id: text(row, "id"),
    conversationKey: text(row, "conversation_key"),
    user: toUser(row),
    text: text(row, "text"),
    startedAt: integer(row, "started_at"),
    finishedAt: optionalInteger(row, "finished_at"),
    status: oneOf(row, "status", turnStatuses),
    limit: row["limit_budget"] !== null ? "budget" : optionalOneOf(row, "limit_name", limitNames),
    error: optionalText(row, "error"),
  };
}

export function toUsageTotal(row: Row): UsageTotal {
  return {
    group: text(row, "grouped"),
    model: text(row, "model"),
    turns: integer(row, "turns"),
    steps: integer(row, "steps"),
    inputTokens: integer(row, "input_tokens"),
    cachedInputTokens: integer(row, "cached_input_tokens"),
    outputTokens: integer(row, "output_tokens"),
    reasoningTokens: integer(row, "reasoning_tokens"),
  };
}

export function toCellRun(row: Row): CellRunRecord {
  return {
    id: integer(row, "id"),
    conversationKey: text(row, "conversation_key"),
    turnId: text(row, "turn_id"),
    user: text(row, "user"),
    workspace: optionalText(row, "user_workspace"),
    startedAt: integer(row, "started_at"),
    code: text(row, "code"),
    outcome: oneOf(row, "outcome", cellOutcomes),
    durationMs: integer(row, "duration_ms"),
    error: optionalText(row, "error"),
  };
}

export function toAttachment(row: Row): AttachmentRecord {
  return {
    id: integer(row, "id"),
    conversationKey: text(row, "conversation_key"),
    name: text(row, "name"),
    bytes: integer(row, "bytes"),
    sha256: text(row, "sha256"),
    createdAt: integer(row, "created_at"),
    path: text(row, "path"),
  };
}

export const feedbackRatings: readonly FeedbackRating[] = ["positive", "negative"];

export function toFeedback(row: Row): FeedbackRecord {
  return {
    turnId: text(row, "turn_id"),
    user: toUser(row),
    rating: oneOf(row, "rating", feedbackRatings),
    createdAt: integer(row, "created_at"),
  };
}

/** SQLite keeps `allowed` as 0 or 1, Postgres as a boolean. */
export function toEgressRequest(row: Row): EgressRequestRecord {
  return {
    conversationKey: text(row, "conversation_key"),
    turnId: optionalText(row, "turn_id"),
    user: `${text(row, "user_platform")}:${text(row, "user_id")}`,
    workspace: optionalText(row, "user_workspace"),
    method: text(row, "method"),
    host: text(row, "host"),
    port: integer(row, "port"),
    address: optionalText(row, "address"),
    allowed: (row as Record<string, unknown>)["allowed"] === true || row["allowed"] === 1,
    reason: optionalText(row, "reason"),
    bytesOut: integer(row, "bytes_out"),
    bytesIn: integer(row, "bytes_in"),
    startedAt: integer(row, "started_at"),
    durationMs: integer(row, "duration_ms"),
  };
}
