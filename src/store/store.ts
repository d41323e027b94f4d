/**
 * The store seam: what threadbook remembers across turns and restarts.
 * SQLite through `node:sqlite` today (sqlite-store.ts); Postgres later for
 * several replicas. Members are synchronous, as `node:sqlite` is, except the
 * two that move an attachment's bytes, which return promises so a large file
 * does not hold up other conversations. They throw a StoreError with a plain
 * message when the database or its files fail. Times are epoch milliseconds.
 */
import type { TranscriptItem } from "../core/model/model-client.ts";
import type { LimitName } from "../core/turn.ts";

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
  user: string;
  text: string;
  startedAt: number;
  /** Null while the turn runs. */
  finishedAt: number | null;
  status: TurnStatus;
  /** Which limit ended the turn when `status` is "limit". */
  limit: LimitName | null;
  /** What failed when `status` is "failed". */
  error: string | null;
}

export interface StartTurnInput {
  conversationKey: string;
  user: string;
  text: string;
}

export interface TurnOutcome {
  status: Exclude<TurnStatus, "running">;
  limit: LimitName | null;
  error: string | null;
}

/** "lost": the session died or was restarted while the cell ran. */
export type CellOutcome = "ok" | "error" | "timeout" | "lost";

export interface CellRunInput {
  conversationKey: string;
  turnId: string;
  user: string;
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
  /** Where the bytes are kept, relative to the data directory, with `/` separators. */
  path: string;
}

export interface Store {
  /** The conversation, or null if nothing was recorded for it yet. */
  getConversation(key: string): ConversationRecord | null;

  /** Binds a sandbox session to the conversation (creating it if new); null unbinds. */
  bindSession(key: string, sessionId: string | null): void;

  /**
   * Drops the conversation's transcript, session binding and kept
   * attachments (their rows and files), as `/reset` does. Its turns and cell
   * runs stay: they are the audit trail.
   */
  resetConversation(key: string): void;

  /**
   * Keeps a copy of a file the user attached (creating the conversation if
   * new): its bytes in a private file under the data directory, and a row.
   */
  recordAttachment(input: AttachmentInput): Promise<AttachmentRecord>;

  /** The conversation's kept attachments, oldest first. */
  listAttachments(conversationKey: string): AttachmentRecord[];

  /**
   * The kept bytes of an attachment, or null when its file is gone. Throws a
   * StoreError when the file no longer matches its `sha256`.
   */
  readAttachment(attachment: AttachmentRecord): Promise<Buffer | null>;

  /**
   * Appends items after those already saved for the conversation, in order.
   * Image data is never saved: a result's `images` are dropped.
   */
  appendTranscript(key: string, turnId: string, items: TranscriptItem[]): void;

  /** Every saved item of the conversation, oldest first. */
  loadTranscript(key: string): TranscriptItem[];

  /** Records a running turn (creating the conversation if new) and returns its id. */
  startTurn(input: StartTurnInput): string;

  /** Records how the turn ended. Throws a StoreError for an unknown id. */
  finishTurn(turnId: string, outcome: TurnOutcome): void;

  /** The turn, or null for an unknown id. */
  getTurn(turnId: string): TurnRecord | null;

  /** Adds a cell run to the audit log. */
  recordCellRun(run: CellRunInput): void;

  /** Cell runs matching every given field, oldest first. */
  listCellRuns(filter?: CellRunFilter): CellRunRecord[];

  /**
   * True the first time `key` is claimed, false ever after (until pruned),
   * also across processes sharing the database: how a retried or duplicate
   * delivery of a platform event is dropped.
   */
  claimEvent(key: string): boolean;

  /** Forgets event keys claimed more than `olderThanMs` ago; returns how many. */
  pruneEvents(olderThanMs: number): number;

  /** Closes the database; calling it again does nothing. */
  close(): void;
}
