/**
 * The store seam: what threadbook remembers across turns and restarts.
 * SQLite through `node:sqlite` by default (sqlite-store.ts); Postgres
 * (postgres-store.ts) for several replicas of the bot sharing one database. Every member returns a promise, so a store over the
 * network fits without changing its callers; a promise rejects with a
 * StoreError with a plain message when the database or its files fail.
 * Times are epoch milliseconds.
 *
 * The store owns the shapes it keeps and imports nothing from the core: the
 * core's values (its transcript items, limit names and turn users) fit these
 * shapes, so a change to them that the schema cannot hold fails to typecheck.
 */
import type { EgressStore } from "./egress-store.ts";
import type { LeaseStore } from "./lease-store.ts";
import type { NotebookStore } from "./notebook-store.ts";
import type { SkillStore } from "./skill-store.ts";

/** An item of a conversation's transcript, as saved: a result's images are never kept. */
export type StoredTranscriptItem =
  | { type: "user"; text: string }
  | { type: "assistant"; text: string }
  | { type: "code"; callId: string; code: string }
  /** A call of the proposal tool: its arguments as the model wrote them. */
  | { type: "proposal"; callId: string; arguments: string }
  | { type: "result"; callId: string; output: string }
  /**
   * The model's reasoning, opaque and bounded by the model client: kept so a
   * later turn of the same conversation can send it back. Never shown.
   */
  | { type: "reasoning"; id: string; encryptedContent: string; summary: string[]; model: string };

/** Which per-turn limit, or daily token budget ("budget"), ended a turn; the schema accepts only these. */
export type TurnLimitName = "steps" | "cells" | "time" | "tokens" | "budget";

/** Whose daily token budget: the user's or their workspace's. */
export type BudgetName = "user" | "workspace";

/** Who started a turn. */
export interface UserRecord {
  /** e.g. "slack", "discord", "cli". */
  platform: string;
  /** The user's id on that platform. */
  id: string;
  /** The Slack team or Discord guild; null where the platform has none. */
  workspace: string | null;
  /** The name shown for the user, when known. */
  displayName: string | null;
}

export interface ConversationRecord {
  /** e.g. "slack:T1:C1:1700000000.000100"; the store never parses it. */
  key: string;
  createdAt: number;
  updatedAt: number;
  /** The sandbox session bound to this conversation, or null when none is. */
  sessionId: string | null;
  /** When `sessionId` was bound; null when none is. */
  sessionBoundAt: number | null;
}

export type TurnStatus = "running" | "answered" | "limit" | "failed";

export interface TurnRecord {
  id: string;
  conversationKey: string;
  user: UserRecord;
  text: string;
  startedAt: number;
  /** Null while the turn runs. */
  finishedAt: number | null;
  status: TurnStatus;
  /** Which limit ended the turn when `status` is "limit". */
  limit: TurnLimitName | null;
  /** What failed when `status` is "failed". */
  error: string | null;
}

export interface StartTurnInput {
  conversationKey: string;
  user: UserRecord;
  text: string;
}

export interface UserTurnCount {
  count: number;
  /** When the oldest counted turn started; null when none counts. */
  oldestStartedAt: number | null;
}

export interface TurnOutcome {
  status: Exclude<TurnStatus, "running">;
  limit: TurnLimitName | null;
  /** Which budget, when `limit` is "budget". */
  budget?: BudgetName | null;
  error: string | null;
}

/** One model step's tokens, for the usage ledger. */
export interface ModelUsageInput {
  turnId: string;
  conversationKey: string;
  user: UserRecord;
  /** The model's name as configured, e.g. "gpt-5.1". */
  model: string;
  inputTokens: number;
  /** Part of `inputTokens`. */
  cachedInputTokens: number;
  outputTokens: number;
  /** Part of `outputTokens`. */
  reasoningTokens: number;
}

/** How `threadbook usage` groups the ledger. */
export type UsageGrouping = "user" | "workspace" | "conversation" | "day";

export interface UsageQuery {
  /** Steps recorded at or after this time. */
  sinceMs: number;
  by: UsageGrouping;
}

/** The ledger's sums for one group and one model. */
export interface UsageTotal {
  /**
   * "slack:U123" (user), "slack:T123" or the platform alone where it has no
   * workspace (workspace), the conversation's key, or "2025-01-31" (a UTC day).
   */
  group: string;
  model: string;
  turns: number;
  steps: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

/** Whose tokens a daily budget counts. */
export type TokenScope =
  | { kind: "user"; platform: string; id: string }
  | { kind: "workspace"; platform: string; workspace: string };

/** "lost": the session died or was restarted while the cell ran. */
export type CellOutcome = "ok" | "error" | "timeout" | "lost";

export interface CellRunInput {
  conversationKey: string;
  turnId: string;
  /** Who ran it, as "platform:id", e.g. "slack:U123". */
  user: string;
  /** The user's Slack team or Discord guild; null where the platform has none. */
  workspace: string | null;
  startedAt: number;
  code: string;
  outcome: CellOutcome;
  durationMs: number;
  /** The traceback or timeout note; null when the cell ran clean. */
  error: string | null;
}

export interface CellRunRecord extends CellRunInput {
  /** Increases with every recorded run. */
  id: number;
}

export interface CellRunFilter {
  conversationKey?: string;
  turnId?: string;
  /** Runs started at or after this time. */
  since?: number;
  /** Who ran them: "platform:id" (e.g. "slack:U123"), or the bare id on any platform. */
  user?: string;
}

export interface AttachmentInput {
  conversationKey: string;
  /** Its plain file name in the session's working directory, the name it is put back under. */
  name: string;
  data: Buffer;
}

/** A file a user attached, kept so it can be put back into a new session. */
export interface AttachmentRecord {
  /** Increases with every kept attachment. */
  id: number;
  conversationKey: string;
  /** Its name in the session's working directory. */
  name: string;
  bytes: number;
  /** SHA-256 of the bytes, in hex. */
  sha256: string;
  createdAt: number;
  /**
   * Where the bytes are kept: on SQLite a file relative to the data
   * directory, with `/` separators; on Postgres "database:attachments/<uuid>"
   * (the bytes are in the row, for any replica to read).
   */
  path: string;
}

/** A person's verdict on a turn's reply, such as Slack's feedback buttons give. */
export type FeedbackRating = "positive" | "negative";

export interface FeedbackInput {
  turnId: string;
  /** Who gave it; a person's later verdict on the same turn replaces their earlier one. */
  user: UserRecord;
  rating: FeedbackRating;
}

export interface FeedbackRecord extends FeedbackInput {
  createdAt: number;
}

/** A conversation's variables, saved after a turn (opaque: unpickled only inside a sandbox). */
export interface SnapshotRecord {
  conversationKey: string;
  /** Null when nothing could be kept (over the bound); `note` says why. */
  data: Buffer | null;
  /** The names it holds. */
  names: string[];
  /** Names left out, and why, as the model is told. */
  skipped: { name: string; why: string }[];
  /** Why there is no data, when there is none. */
  note: string | null;
  createdAt: number;
}

export interface Store {
  /** The skill library's versions and files (skill-store.ts). */
  readonly skills: SkillStore;

  /** What a conversation's Jupyter notebook is built from (notebook-store.ts). */
  readonly notebook: NotebookStore;

  /** Every request through a session's door out (egress-store.ts). */
  readonly egress: EgressStore;
  /** Which replica runs each conversation's turns now (lease-store.ts); this store is one holder. */
  readonly leases: LeaseStore;

  /** The conversation, or null if nothing was recorded for it yet. */
  getConversation(key: string): Promise<ConversationRecord | null>;

  /** The conversations a sandbox session is bound to, each with its session's id. */
  listBoundConversations(): Promise<ConversationRecord[]>;

  /** Binds a sandbox session to the conversation (creating it if new); null unbinds. */
  bindSession(key: string, sessionId: string | null): Promise<void>;

  /**
   * Drops the conversation's transcript, notebook, session binding and kept
   * attachments (their rows and files), as `/reset` does. Its turns and cell
   * runs stay: they are the audit trail.
   */
  resetConversation(key: string): Promise<void>;

  /**
   * Keeps a copy of a file the user attached (creating the conversation if
   * new): its bytes in a private file under the data directory, and a row.
   */
  recordAttachment(input: AttachmentInput): Promise<AttachmentRecord>;

  /** The conversation's kept attachments, oldest first. */
  listAttachments(conversationKey: string): Promise<AttachmentRecord[]>;

  /**
   * The kept bytes of an attachment, or null when its file is gone. Rejects
   * with a StoreError when the file no longer matches its `sha256`.
   */
  readAttachment(attachment: AttachmentRecord): Promise<Buffer | null>;

  /**
   * Appends items after those already saved for the conversation, in order,
   * all or none. Only the fields of StoredTranscriptItem are saved: image
   * data a result may carry is dropped.
   */
  appendTranscript(key: string, turnId: string, items: readonly StoredTranscriptItem[]): Promise<void>;

  /** Keeps the conversation's latest snapshot, replacing the one before. */
  saveSnapshot(snapshot: Omit<SnapshotRecord, "createdAt">): Promise<void>;

  /** The conversation's latest snapshot, or null; a reset drops it. */
  loadSnapshot(conversationKey: string): Promise<SnapshotRecord | null>;

  /** Every saved item of the conversation, oldest first. */
  loadTranscript(key: string): Promise<StoredTranscriptItem[]>;

  /** Records a running turn (creating the conversation if new), held by this store's lease holder, and returns its id. */
  startTurn(input: StartTurnInput): Promise<string>;

  /** Records how the turn ended. Rejects with a StoreError for an unknown id. */
  finishTurn(turnId: string, outcome: TurnOutcome): Promise<void>;

  /** The turn, or null for an unknown id. */
  getTurn(turnId: string): Promise<TurnRecord | null>;

  /**
   * The turns of `platform`'s users that a crash left running, marked as
   * failed: an adapter takes them as it starts, and again now and then, to
   * tell each conversation its question went unanswered. Each is given once,
   * oldest first. Only a store opened to recover them finds any. On SQLite
   * (one bot per file) that is every turn left running when it opened; on
   * Postgres, shared by replicas, it is the running turns whose holder's
   * lease on their conversation has expired, looked for at each call, never
   * another live replica's.
   */
  takeInterruptedTurns(platform: string): Promise<TurnRecord[]>;

  /**
   * The turns the user started at or after `sinceMs`, whatever their status:
   * how many, and when the oldest of them started (null when none). What a
   * per-user rate limit counts, across restarts.
   */
  userTurnsSince(userPlatform: string, userId: string, sinceMs: number): Promise<UserTurnCount>;

  /**
   * The user's turns running under another holder than this store (another
   * replica), whenever they started: what the per-user limit of turns at
   * once adds to this replica's own count.
   */
  userTurnsRunningElsewhere(userPlatform: string, userId: string): Promise<number>;

  /** Adds one model step's tokens to the usage ledger. */
  recordModelUsage(usage: ModelUsageInput): Promise<void>;

  /** The ledger since `sinceMs`, summed by group and model, groups in order. */
  usageTotals(query: UsageQuery): Promise<UsageTotal[]>;

  /**
   * Input plus output tokens of the scope's model steps recorded at or after
   * `sinceMs`: what a daily budget counts, across restarts.
   */
  tokensUsedSince(scope: TokenScope, sinceMs: number): Promise<number>;

  /** Adds a cell run to the audit log. */
  recordCellRun(run: CellRunInput): Promise<void>;

  /** Cell runs matching every given field, oldest first. */
  listCellRuns(filter?: CellRunFilter): Promise<CellRunRecord[]>;

  /**
   * True the first time `key` is claimed, false ever after (until pruned),
   * also across processes sharing the database: how a retried or duplicate
   * delivery of a platform event is dropped.
   */
  claimEvent(key: string): Promise<boolean>;

  /** Forgets event keys claimed more than `olderThanMs` ago; returns how many. */
  pruneEvents(olderThanMs: number): Promise<number>;

  /** Removes the kept attachments (rows and files) attached more than `olderThanMs` ago; returns how many. */
  pruneAttachments(olderThanMs: number): Promise<number>;

  /**
   * Drops the transcript items of turns started more than `olderThanMs` ago,
   * and blanks those turns' question text (the turn rows stay, for counts
   * and feedback); returns how many items.
   */
  pruneTranscripts(olderThanMs: number): Promise<number>;

  /** Removes the audit log's cell runs started more than `olderThanMs` ago; returns how many. */
  pruneCellRuns(olderThanMs: number): Promise<number>;

  /** Records a verdict on a turn's reply. Rejects with a StoreError for an unknown turn. */
  recordFeedback(input: FeedbackInput): Promise<void>;

  /** The verdicts on a turn, oldest first. */
  listFeedback(turnId: string): Promise<FeedbackRecord[]>;

  /** Resolves while the store answers; rejects with a StoreError when it does not (closed, its files gone). */
  ping(): Promise<void>;

  /** Closes the database; calling it again does nothing. */
  close(): Promise<void>;
}
