/**
 * The Store on Node's built-in SQLite: one file, `<dataDir>/threadbook.db`,
 * in WAL mode so several connections (and processes) can share it. Kept
 * attachments' bytes are files beside it (attachment-files.ts).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { DatabaseSync } from "node:sqlite";
import { StoreError } from "../errors.ts";
import { readAttachmentFile, removeAttachmentFile, removeConversationFiles, sha256Hex, writeAttachmentFile } from "./attachment-files.ts";
import { migrate } from "./migrations.ts";
import { SqliteEgressStore } from "./sqlite-egress-store.ts";
import { newLeaseHolder } from "./lease-store.ts";
import { SqliteLeaseStore } from "./sqlite-lease-store.ts";
import { SqliteNotebookStore } from "./sqlite-notebook-store.ts";
import { SqliteSkillStore } from "./sqlite-skill-store.ts";
import { openFailure, operationFailure } from "./sqlite-errors.ts";
import { integer, text } from "./sqlite-rows.ts";
import { interruptedTurnError, storedFields, toAttachment, toCellRun, toConversation, toFeedback, toTurn, toUsageTotal } from "./store-records.ts";
import { prepareStatements, type Statements } from "./sqlite-statements.ts";
import { createTransaction, type Transaction } from "./sqlite-transaction.ts";
import type {
  AttachmentInput,
  AttachmentRecord,
  CellRunFilter,
  CellRunInput,
  CellRunRecord,
  ConversationRecord,
  FeedbackInput,
  FeedbackRecord,
  ModelUsageInput,
  StartTurnInput,
  Store,
  StoredTranscriptItem,
  TurnOutcome,
  SnapshotRecord,
  TurnRecord,
  TokenScope,
  UsageQuery,
  UsageTotal,
  UserTurnCount,
} from "./store.ts";

export const databaseFileName = "threadbook.db";

/** How long a connection waits for another's write lock before failing. */
const busyTimeoutMs = 5_000;

export interface SqliteStoreOptions {
  /** Current time in epoch milliseconds; tests pass their own. */
  clock?: () => number;
  /**
   * Mark turns left "running" as failed on open (default true). Only the one
   * process that runs turns should do this: a second process opening the same
   * file (a one-off `threadbook ask` beside the bot) would otherwise mark the
   * bot's turns in progress as failed.
   */
  recoverInterruptedTurns?: boolean;
}

export class SqliteStore implements Store {
  /** Path of the database file, for logs and messages. */
  readonly location: string;
  readonly #dataDir: string;
  readonly #database: DatabaseSync;
  readonly #statements: Statements;
  readonly #transaction: Transaction;
  readonly #clock: () => number;
  /** Turns a crash left running, failed as the store opened, until an adapter takes them. */
  #interrupted: TurnRecord[] = [];
  readonly skills: SqliteSkillStore;
  readonly notebook: SqliteNotebookStore;
  readonly egress: SqliteEgressStore;
  readonly leases: SqliteLeaseStore;

  /** Use openSqliteStore, which prepares the database first. */
  constructor(database: DatabaseSync, dataDir: string, clock: () => number) {
    this.location = join(dataDir, databaseFileName);
    this.#dataDir = dataDir;
    this.#database = database;
    this.#statements = prepareStatements(database);
    this.#transaction = createTransaction(database);
    this.#clock = clock;
    this.skills = new SqliteSkillStore(database, this.#transaction, () => this.#now(), (action, work) => this.#guard(action, work));
    this.notebook = new SqliteNotebookStore(database, this.#transaction, (action, work) => this.#guard(action, work));
    this.egress = new SqliteEgressStore(database, (action, work) => this.#guard(action, work));
    this.leases = new SqliteLeaseStore(database, newLeaseHolder(hostname(), process.pid, randomBytes(4).toString("hex")), () => this.#now(), (action, work) => this.#guard(action, work));
  }

  #now(): number {
    return Math.round(this.#clock());
  }

  /**
   * Runs the synchronous work at once (so a caller that does not wait still
   * has it done, as when a turn is marked failed the moment the process is
   * told to stop) and settles with its result, or rejects with a StoreError.
   */
  #guard<T>(action: string, work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(operationFailure(this.location, action, error));
    }
  }

  getConversation(key: string): Promise<ConversationRecord | null> {
    return this.#guard("read a conversation", () => {
      const row = this.#statements.getConversation.get(key);
      return row === undefined ? null : toConversation(row);
    });
  }

  bindSession(key: string, sessionId: string | null): Promise<void> {
    return this.#guard("bind a sandbox session", () => {
      const now = this.#now();
      this.#transaction(() => {
        this.#statements.touchConversation.run({ key, now });
        this.#statements.bindSession.run(sessionId, sessionId === null ? null : now, key);
      });
    });
  }

  resetConversation(key: string): Promise<void> {
    return this.#guard("reset a conversation", () => {
      const now = this.#now();
      this.#transaction(() => {
        this.#statements.touchConversation.run({ key, now });
        this.#statements.deleteTranscript.run(key);
        this.notebook.deleteConversation(key);
        this.#statements.deleteAttachments.run(key);
        this.#statements.deleteSnapshot.run(key);
        this.#statements.bindSession.run(null, null, key);
      });
      // After the commit: a failed reset leaves the files its rows still name.
      removeConversationFiles(this.#dataDir, key);
    });
  }

  saveSnapshot(snapshot: Omit<SnapshotRecord, "createdAt">): Promise<void> {
    return this.#guard("keep a conversation's variables", () => {
      const now = this.#now();
      this.#transaction(() => {
        this.#statements.touchConversation.run({ key: snapshot.conversationKey, now });
        this.#statements.upsertSnapshot.run(snapshot.conversationKey, snapshot.data, JSON.stringify(snapshot.names), JSON.stringify(snapshot.skipped), snapshot.note, now);
      });
    });
  }

  loadSnapshot(conversationKey: string): Promise<SnapshotRecord | null> {
    return this.#guard("read a conversation's variables", () => {
      const row = this.#statements.loadSnapshot.get(conversationKey) as
        | { conversation_key: string; data: Uint8Array | null; names_json: string; skipped_json: string; note: string | null; created_at: number }
        | undefined;
      if (row === undefined) return null;
      return {
        conversationKey: row.conversation_key,
        data: row.data === null ? null : Buffer.from(row.data),
        names: JSON.parse(row.names_json) as string[],
        skipped: JSON.parse(row.skipped_json) as { name: string; why: string }[],
        note: row.note,
        createdAt: Number(row.created_at),
      };
    });
  }

  async recordAttachment(input: AttachmentInput): Promise<AttachmentRecord> {
    const path = await writeAttachmentFile(this.#dataDir, input.conversationKey, input.name, input.data);
    try {
      return await this.#guard("record an attachment", () => {
        const now = this.#now();
        const sha256 = sha256Hex(input.data);
        const id = this.#transaction(() => {
          this.#statements.touchConversation.run({ key: input.conversationKey, now });
          const result = this.#statements.insertAttachment.run(input.conversationKey, input.name, input.data.length, sha256, now, path);
          return Number(result.lastInsertRowid);
        });
        return { id, conversationKey: input.conversationKey, name: input.name, bytes: input.data.length, sha256, createdAt: now, path };
      });
    } catch (error) {
      await removeAttachmentFile(this.#dataDir, path).catch(() => undefined);
      throw error;
    }
  }

  listAttachments(conversationKey: string): Promise<AttachmentRecord[]> {
    return this.#guard("read the kept attachments", () => this.#statements.listAttachments.all(conversationKey).map(toAttachment));
  }

  readAttachment(attachment: AttachmentRecord): Promise<Buffer | null> {
    return readAttachmentFile(this.#dataDir, attachment.path, attachment.sha256);
  }

  appendTranscript(key: string, turnId: string, items: readonly StoredTranscriptItem[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.#guard("save the transcript", () => {
      const now = this.#now();
      this.#transaction(() => {
        this.#statements.touchConversation.run({ key, now });
        let seq = integer(this.#statements.nextTranscriptSeq.get(key) ?? { seq: 0 }, "seq");
        for (const item of items) {
          this.#statements.insertTranscriptItem.run(key, seq, turnId, JSON.stringify(storedFields(item)), now);
          seq += 1;
        }
      });
    });
  }

  loadTranscript(key: string): Promise<StoredTranscriptItem[]> {
    return this.#guard("read the transcript", () =>
      this.#statements.loadTranscript.all(key).map((row) => JSON.parse(text(row, "item_json")) as StoredTranscriptItem),
    );
  }

  startTurn(input: StartTurnInput): Promise<string> {
    return this.#guard("record the start of a turn", () => {
      const id = randomUUID();
      const now = this.#now();
      this.#transaction(() => {
        this.#statements.touchConversation.run({ key: input.conversationKey, now });
        const { user } = input;
        this.#statements.insertTurn.run(id, input.conversationKey, user.platform, user.id, user.workspace, user.displayName, input.text, now, this.leases.holder);
      });
      return id;
    });
  }

  finishTurn(turnId: string, outcome: TurnOutcome): Promise<void> {
    return this.#guard("record the end of a turn", () => {
      const budget = outcome.limit === "budget" ? (outcome.budget ?? "user") : null;
      const limit = outcome.limit === "budget" ? null : outcome.limit;
      const result = this.#statements.finishTurn.run(this.#now(), outcome.status, limit, budget, outcome.error, turnId);
      if (Number(result.changes) === 0) {
        throw new StoreError(`The database has no turn with id ${turnId} to finish.`, { details: { turnId } });
      }
    });
  }

  getTurn(turnId: string): Promise<TurnRecord | null> {
    return this.#guard("read a turn", () => {
      const row = this.#statements.getTurn.get(turnId);
      return row === undefined ? null : toTurn(row);
    });
  }

  userTurnsSince(userPlatform: string, userId: string, sinceMs: number): Promise<UserTurnCount> {
    return this.#guard("count a user's turns", () => {
      const row = this.#statements.countTurnsSince.get(userPlatform, userId, Math.round(sinceMs)) ?? { turns: 0, oldest: null };
      return { count: integer(row, "turns"), oldestStartedAt: row.oldest === null ? null : integer(row, "oldest") };
    });
  }

  userTurnsRunningElsewhere(userPlatform: string, userId: string): Promise<number> {
    return this.#guard("count a user's running turns", () => integer(this.#statements.countRunningElsewhere.get(userPlatform, userId, this.leases.holder) ?? { turns: 0 }, "turns"));
  }

  recordModelUsage(usage: ModelUsageInput): Promise<void> {
    return this.#guard("record model usage", () => {
      const { user } = usage;
      this.#statements.insertModelUsage.run(
        this.#now(),
        usage.turnId,
        usage.conversationKey,
        user.platform,
        user.id,
        user.workspace,
        usage.model,
        usage.inputTokens,
        usage.cachedInputTokens,
        usage.outputTokens,
        usage.reasoningTokens,
      );
    });
  }

  usageTotals(query: UsageQuery): Promise<UsageTotal[]> {
    return this.#guard("read the usage ledger", () => this.#statements[`usageBy_${query.by}`].all(Math.round(query.sinceMs)).map(toUsageTotal));
  }

  tokensUsedSince(scope: TokenScope, sinceMs: number): Promise<number> {
    return this.#guard("count the tokens used", () => {
      const since = Math.round(sinceMs);
      const row = scope.kind === "user"
        ? this.#statements.userTokensSince.get(scope.platform, scope.id, since)
        : this.#statements.workspaceTokensSince.get(scope.platform, scope.workspace, since);
      return integer(row ?? { tokens: 0 }, "tokens");
    });
  }

  recordCellRun(run: CellRunInput): Promise<void> {
    return this.#guard("record a cell run", () => {
      this.#statements.insertCellRun.run(
        run.conversationKey,
        run.turnId,
        run.user,
        run.workspace,
        Math.round(run.startedAt),
        run.code,
        run.outcome,
        Math.round(run.durationMs),
        run.error,
      );
    });
  }

  listCellRuns(filter: CellRunFilter = {}): Promise<CellRunRecord[]> {
    return this.#guard("read the cell runs", () =>
      this.#statements.listCellRuns
        .all({
          conversationKey: filter.conversationKey ?? null,
          turnId: filter.turnId ?? null,
          since: filter.since === undefined ? null : Math.round(filter.since),
          user: filter.user ?? null,
        })
        .map(toCellRun),
    );
  }

  claimEvent(key: string): Promise<boolean> {
    return this.#guard("claim an event", () => Number(this.#statements.claimEvent.run(key, this.#now()).changes) === 1);
  }

  pruneEvents(olderThanMs: number): Promise<number> {
    return this.#guard("prune old events", () =>
      Number(this.#statements.pruneEvents.run(this.#now() - olderThanMs).changes),
    );
  }

  async pruneAttachments(olderThanMs: number): Promise<number> {
    const paths = await this.#guard("prune old attachments", () =>
      this.#statements.pruneAttachments.all(this.#now() - olderThanMs).map((row) => String(row["path"])),
    );
    // After the commit, as a reset does: a file whose removal fails is only a file its row no longer names.
    for (const path of paths) await removeAttachmentFile(this.#dataDir, path).catch(() => undefined);
    return paths.length;
  }

  pruneTranscripts(olderThanMs: number): Promise<number> {
    return this.#guard("prune old transcripts", () => {
      const before = this.#now() - olderThanMs;
      return this.#transaction(() => {
        const removed = Number(this.#statements.pruneTranscripts.run(before).changes);
        this.#statements.blankQuestions.run(before);
        return removed;
      });
    });
  }

  pruneCellRuns(olderThanMs: number): Promise<number> {
    return this.#guard("prune the old audit log", () => Number(this.#statements.pruneCellRuns.run(this.#now() - olderThanMs).changes));
  }

  recordFeedback(input: FeedbackInput): Promise<void> {
    return this.#guard("record feedback", () => {
      if (this.#statements.getTurn.get(input.turnId) === undefined) throw new StoreError(`No turn ${input.turnId} to record feedback on.`);
      const { user } = input;
      this.#statements.upsertFeedback.run(input.turnId, user.platform, user.id, user.workspace, user.displayName, input.rating, this.#now());
    });
  }

  listFeedback(turnId: string): Promise<FeedbackRecord[]> {
    return this.#guard("read feedback", () => this.#statements.listFeedback.all(turnId).map(toFeedback));
  }

  /**
   * Marks every turn still "running" as failed, and keeps them for
   * `takeInterruptedTurns`; returns how many. Synchronous: opening the store
   * does it. A SQLite file has one bot: every lease left is its
   * predecessor's, and goes too.
   */
  failInterruptedTurns(): number {
    try {
      this.#statements.dropLeases.run();
      const failed = this.#statements.failRunningTurns.all(this.#now(), interruptedTurnError).map(toTurn);
      this.#interrupted.push(...failed);
      return failed.length;
    } catch (error) {
      throw operationFailure(this.location, "recover interrupted turns", error);
    }
  }

  takeInterruptedTurns(platform: string): Promise<TurnRecord[]> {
    const taken = this.#interrupted.filter((turn) => turn.user.platform === platform);
    this.#interrupted = this.#interrupted.filter((turn) => turn.user.platform !== platform);
    return Promise.resolve(taken.sort((a, b) => a.startedAt - b.startedAt));
  }

  listBoundConversations(): Promise<ConversationRecord[]> {
    return this.#guard("list the conversations with a session", () => this.#statements.listBoundConversations.all().map(toConversation));
  }

  ping(): Promise<void> {
    return this.#guard("answer", () => {
      this.#statements.ping.get();
    });
  }

  close(): Promise<void> {
    if (this.#database.isOpen) this.#database.close();
    return Promise.resolve();
  }
}

/**
 * Creates `dataDir` if needed, opens the database in it, applies pending
 * migrations and marks turns a crash left running as failed.
 */
export function openSqliteStore(dataDir: string, options: SqliteStoreOptions = {}): SqliteStore {
  const location = join(dataDir, databaseFileName);
  const clock = options.clock ?? Date.now;
  let database: DatabaseSync | undefined;
  try {
    // Transcripts hold users' data and code: a directory created here is private to the bot's user.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    database = new DatabaseSync(location, { timeout: busyTimeoutMs, enableForeignKeyConstraints: true });
    const journalMode = database.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode;
    if (journalMode !== "wal") {
      throw new StoreError(
        `Cannot open the database at ${location}: its file system does not support SQLite's WAL mode (a network share?). ` +
          "Point THREADBOOK_DATA_DIR at a local directory.",
        { details: { location, journalMode } },
      );
    }
    // In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits.
    database.exec("PRAGMA synchronous = NORMAL");
    migrate(database, location, Math.round(clock()));
    const store = new SqliteStore(database, dataDir, clock);
    if (options.recoverInterruptedTurns ?? true) store.failInterruptedTurns();
    return store;
  } catch (error) {
    if (database?.isOpen) database.close();
    throw openFailure(location, dataDir, error);
  }
}
