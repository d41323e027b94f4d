/**
 * The Store on Postgres (`pg`), chosen by THREADBOOK_DATABASE_URL: the state
 * several replicas of the bot share. Everything lives in the database, kept
 * attachments' bytes and skill files included, so any replica can put them
 * back. The tables and their meaning are SQLite's (postgres-migrations.ts).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { StoreError } from "../errors.ts";
import { sha256Hex } from "./attachment-files.ts";
import { PostgresDatabase, type PostgresRow, type Query } from "./postgres-database.ts";
import { databaseLocation, postgresOpenFailure } from "./postgres-errors.ts";
import { migratePostgres } from "./postgres-migrations.ts";
import { newLeaseHolder } from "./lease-store.ts";
import { PostgresEgressStore } from "./postgres-egress-store.ts";
import { PostgresLeaseStore } from "./postgres-lease-store.ts";
import { PostgresNotebookStore } from "./postgres-notebook-store.ts";
import { PostgresSkillStore } from "./postgres-skill-store.ts";
import type { Row } from "./sqlite-rows.ts";
import { integer, optionalText, text } from "./sqlite-rows.ts";
import { interruptedTurnError, storedFields, toAttachment, toCellRun, toConversation, toFeedback, toTurn, toUsageTotal } from "./store-records.ts";
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
  SnapshotRecord,
  StartTurnInput,
  Store,
  StoredTranscriptItem,
  TokenScope,
  TurnOutcome,
  TurnRecord,
  UsageGrouping,
  UsageQuery,
  UsageTotal,
  UserTurnCount,
} from "./store.ts";

export interface PostgresStoreOptions {
  /** Current time in epoch milliseconds; tests pass their own. */
  clock?: () => number;
  /** Mark turns left "running" as failed on open (default true); see SqliteStore's option of the same name. */
  recoverInterruptedTurns?: boolean;
}

const conversationColumns = "key, created_at, updated_at, session_id, session_bound_at";
const turnColumns = "id, conversation_key, user_platform, user_id, user_workspace, user_display_name, text, started_at, finished_at, status, limit_name, limit_budget, error";
const touchConversation = `INSERT INTO conversations (key, created_at, updated_at) VALUES ($1, $2, $2)
  ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at`;

/** The ledger's group of a row, per grouping; SQL text chosen from this fixed map, never from input. */
const usageGroups: Record<UsageGrouping, string> = {
  user: "user_platform || ':' || user_id",
  workspace: "CASE WHEN user_workspace IS NULL THEN user_platform ELSE user_platform || ':' || user_workspace END",
  conversation: "conversation_key",
  day: "to_char(to_timestamp(at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
};

/** `pg` rows hold the same value types the shared row readers check. */
function rows(result: { rows: PostgresRow[] }): Row[] {
  return result.rows as Row[];
}

export class PostgresStore implements Store {
  /** The database's URL without its password, for logs and messages. */
  readonly location: string;
  readonly skills: PostgresSkillStore;
  readonly notebook: PostgresNotebookStore;
  readonly leases: PostgresLeaseStore;
  readonly egress: PostgresEgressStore;
  readonly #database: PostgresDatabase;
  readonly #clock: () => number;
  readonly #recovers: boolean;
  /** Turns whose holder's lease expired, failed by this store, until an adapter takes them. */
  #interrupted: TurnRecord[] = [];

  /** Use openPostgresStore, which prepares the database first. */
  constructor(database: PostgresDatabase, clock: () => number, recovers: boolean) {
    this.location = database.location;
    this.#database = database;
    this.#clock = clock;
    this.#recovers = recovers;
    this.skills = new PostgresSkillStore(database, () => this.#now());
    this.notebook = new PostgresNotebookStore(database);
    this.egress = new PostgresEgressStore(database);
    this.leases = new PostgresLeaseStore(database, newLeaseHolder(hostname(), process.pid, randomBytes(4).toString("hex")), () => this.#now());
  }

  #now(): number {
    return Math.round(this.#clock());
  }

  async getConversation(key: string): Promise<ConversationRecord | null> {
    const [row] = rows(await this.#database.query("read a conversation", `SELECT ${conversationColumns} FROM conversations WHERE key = $1`, [key]));
    return row === undefined ? null : toConversation(row);
  }

  async listBoundConversations(): Promise<ConversationRecord[]> {
    const result = await this.#database.query(
      "list the conversations with a session",
      `SELECT ${conversationColumns} FROM conversations WHERE session_id IS NOT NULL ORDER BY key COLLATE "C"`,
    );
    return rows(result).map(toConversation);
  }

  bindSession(key: string, sessionId: string | null): Promise<void> {
    const now = this.#now();
    return this.#database.transaction("bind a sandbox session", async (query) => {
      await query(touchConversation, [key, now]);
      await query("UPDATE conversations SET session_id = $1, session_bound_at = $2 WHERE key = $3", [sessionId, sessionId === null ? null : now, key]);
    });
  }

  resetConversation(key: string): Promise<void> {
    const now = this.#now();
    return this.#database.transaction("reset a conversation", async (query) => {
      await query(touchConversation, [key, now]);
      await query("DELETE FROM transcript_items WHERE conversation_key = $1", [key]);
      await query("DELETE FROM notebook_turns WHERE conversation_key = $1", [key]);
      await query("DELETE FROM attachments WHERE conversation_key = $1", [key]);
      await query("DELETE FROM snapshots WHERE conversation_key = $1", [key]);
      await query("UPDATE conversations SET session_id = NULL, session_bound_at = NULL WHERE key = $1", [key]);
    });
  }

  saveSnapshot(snapshot: Omit<SnapshotRecord, "createdAt">): Promise<void> {
    const now = this.#now();
    return this.#database.transaction("keep a conversation's variables", async (query) => {
      await query(touchConversation, [snapshot.conversationKey, now]);
      await query(
        `INSERT INTO snapshots (conversation_key, data, names_json, skipped_json, note, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (conversation_key) DO UPDATE SET data = excluded.data, names_json = excluded.names_json,
           skipped_json = excluded.skipped_json, note = excluded.note, created_at = excluded.created_at`,
        [snapshot.conversationKey, snapshot.data, JSON.stringify(snapshot.names), JSON.stringify(snapshot.skipped), snapshot.note, now],
      );
    });
  }

  async loadSnapshot(conversationKey: string): Promise<SnapshotRecord | null> {
    const [row] = (await this.#database.query(
      "read a conversation's variables",
      "SELECT conversation_key, data, names_json, skipped_json, note, created_at FROM snapshots WHERE conversation_key = $1",
      [conversationKey],
    )).rows;
    if (row === undefined) return null;
    const data = row["data"];
    if (data !== null && !Buffer.isBuffer(data)) throw new StoreError('The database holds an unexpected value in column "data" (expected bytes).');
    const fields = row as Row;
    return {
      conversationKey: text(fields, "conversation_key"),
      data,
      names: JSON.parse(text(fields, "names_json")) as string[],
      skipped: JSON.parse(text(fields, "skipped_json")) as { name: string; why: string }[],
      note: optionalText(fields, "note"),
      createdAt: integer(fields, "created_at"),
    };
  }

  recordAttachment(input: AttachmentInput): Promise<AttachmentRecord> {
    const now = this.#now();
    const sha256 = sha256Hex(input.data);
    const path = `database:attachments/${randomUUID()}`;
    return this.#database.transaction("record an attachment", async (query) => {
      await query(touchConversation, [input.conversationKey, now]);
      const [row] = rows(await query(
        `INSERT INTO attachments (conversation_key, name, bytes, sha256, created_at, path, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
        [input.conversationKey, input.name, input.data.length, sha256, now, path, input.data],
      ));
      return { id: integer(row ?? {}, "id"), conversationKey: input.conversationKey, name: input.name, bytes: input.data.length, sha256, createdAt: now, path };
    });
  }

  async listAttachments(conversationKey: string): Promise<AttachmentRecord[]> {
    const result = await this.#database.query(
      "read the kept attachments",
      "SELECT id, conversation_key, name, bytes, sha256, created_at, path FROM attachments WHERE conversation_key = $1 ORDER BY id",
      [conversationKey],
    );
    return rows(result).map(toAttachment);
  }

  async readAttachment(attachment: AttachmentRecord): Promise<Buffer | null> {
    const [row] = (await this.#database.query("read a kept attachment", "SELECT data FROM attachments WHERE id = $1", [attachment.id])).rows;
    if (row === undefined) return null;
    const data = row["data"];
    if (!Buffer.isBuffer(data)) throw new StoreError('The database holds an unexpected value in column "data" (expected bytes).');
    if (sha256Hex(data) !== attachment.sha256) {
      throw new StoreError(`The kept attachment ${attachment.path} in ${this.location} has changed since it was attached.`, { details: { path: attachment.path } });
    }
    return data;
  }

  appendTranscript(key: string, turnId: string, items: readonly StoredTranscriptItem[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const now = this.#now();
    return this.#database.transaction("save the transcript", async (query) => {
      // The upsert locks the conversation's row until commit: appends to one conversation take turns.
      await query(touchConversation, [key, now]);
      const [next] = rows(await query("SELECT coalesce(max(seq), -1) + 1 AS seq FROM transcript_items WHERE conversation_key = $1", [key]));
      let seq = integer(next ?? { seq: 0 }, "seq");
      for (const item of items) {
        await query("INSERT INTO transcript_items (conversation_key, seq, turn_id, item_json, created_at) VALUES ($1, $2, $3, $4, $5)", [key, seq, turnId, JSON.stringify(storedFields(item)), now]);
        seq += 1;
      }
    });
  }

  async loadTranscript(key: string): Promise<StoredTranscriptItem[]> {
    const result = await this.#database.query("read the transcript", "SELECT item_json FROM transcript_items WHERE conversation_key = $1 ORDER BY seq", [key]);
    return rows(result).map((row) => JSON.parse(text(row, "item_json")) as StoredTranscriptItem);
  }

  async startTurn(input: StartTurnInput): Promise<string> {
    const id = randomUUID();
    const now = this.#now();
    const { user } = input;
    await this.#database.transaction("record the start of a turn", async (query) => {
      await query(touchConversation, [input.conversationKey, now]);
      await query(
        `INSERT INTO turns (id, conversation_key, user_platform, user_id, user_workspace, user_display_name, text, started_at, status, holder)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'running', $9)`,
        [id, input.conversationKey, user.platform, user.id, user.workspace, user.displayName, input.text, now, this.leases.holder],
      );
    });
    return id;
  }

  async finishTurn(turnId: string, outcome: TurnOutcome): Promise<void> {
    const budget = outcome.limit === "budget" ? (outcome.budget ?? "user") : null;
    const limit = outcome.limit === "budget" ? null : outcome.limit;
    const result = await this.#database.query(
      "record the end of a turn",
      "UPDATE turns SET finished_at = $1, status = $2, limit_name = $3, limit_budget = $4, error = $5 WHERE id = $6",
      [this.#now(), outcome.status, limit, budget, outcome.error, turnId],
    );
    if (result.rowCount === 0) throw new StoreError(`The database has no turn with id ${turnId} to finish.`, { details: { turnId } });
  }

  async getTurn(turnId: string): Promise<TurnRecord | null> {
    const [row] = rows(await this.#database.query("read a turn", `SELECT ${turnColumns} FROM turns WHERE id = $1`, [turnId]));
    return row === undefined ? null : toTurn(row);
  }

  async takeInterruptedTurns(platform: string): Promise<TurnRecord[]> {
    if (this.#recovers) await this.failInterruptedTurns();
    const taken = this.#interrupted.filter((turn) => turn.user.platform === platform);
    this.#interrupted = this.#interrupted.filter((turn) => turn.user.platform !== platform);
    return taken.sort((a, b) => a.startedAt - b.startedAt);
  }

  /**
   * Marks as failed every running turn whose holder no longer holds a live
   * lease on its conversation (the replica died, hung past its lease, or
   * never took one), and keeps them for `takeInterruptedTurns`; returns how
   * many. A live replica's turns are never touched. One statement, so two
   * replicas looking at once fail (and tell about) each turn once.
   */
  async failInterruptedTurns(): Promise<number> {
    const now = this.#now();
    const result = await this.#database.query(
      "recover interrupted turns",
      `UPDATE turns SET finished_at = $1, status = 'failed', error = $2
       WHERE status = 'running' AND NOT EXISTS (
         SELECT 1 FROM conversation_leases l
         WHERE l.conversation_key = turns.conversation_key AND l.holder = turns.holder AND l.expires_at > $1)
       RETURNING ${turnColumns}`,
      [now, interruptedTurnError],
    );
    const failed = rows(result).map(toTurn);
    this.#interrupted.push(...failed);
    return failed.length;
  }

  async userTurnsRunningElsewhere(userPlatform: string, userId: string): Promise<number> {
    const [row] = rows(await this.#database.query(
      "count a user's running turns",
      "SELECT count(*) AS turns FROM turns WHERE status = 'running' AND user_platform = $1 AND user_id = $2 AND holder IS DISTINCT FROM $3",
      [userPlatform, userId, this.leases.holder],
    ));
    return integer(row ?? { turns: 0 }, "turns");
  }

  async userTurnsSince(userPlatform: string, userId: string, sinceMs: number): Promise<UserTurnCount> {
    const [row] = rows(await this.#database.query(
      "count a user's turns",
      "SELECT count(*) AS turns, min(started_at) AS oldest FROM turns WHERE user_platform = $1 AND user_id = $2 AND started_at >= $3",
      [userPlatform, userId, Math.round(sinceMs)],
    ));
    const counted = row ?? { turns: 0, oldest: null };
    return { count: integer(counted, "turns"), oldestStartedAt: counted["oldest"] === null ? null : integer(counted, "oldest") };
  }

  async recordModelUsage(usage: ModelUsageInput): Promise<void> {
    const { user } = usage;
    await this.#database.query(
      "record model usage",
      `INSERT INTO model_usage (at, turn_id, conversation_key, user_platform, user_id, user_workspace, model,
         input_tokens, cached_input_tokens, output_tokens, reasoning_tokens)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [this.#now(), usage.turnId, usage.conversationKey, user.platform, user.id, user.workspace, usage.model,
        usage.inputTokens, usage.cachedInputTokens, usage.outputTokens, usage.reasoningTokens],
    );
  }

  async usageTotals(query: UsageQuery): Promise<UsageTotal[]> {
    const result = await this.#database.query(
      "read the usage ledger",
      `SELECT * FROM (
         SELECT ${usageGroups[query.by]} AS grouped, model, count(DISTINCT turn_id) AS turns, count(*) AS steps,
           sum(input_tokens)::bigint AS input_tokens, sum(cached_input_tokens)::bigint AS cached_input_tokens,
           sum(output_tokens)::bigint AS output_tokens, sum(reasoning_tokens)::bigint AS reasoning_tokens
         FROM model_usage WHERE at >= $1 GROUP BY grouped, model
       ) totals ORDER BY grouped COLLATE "C", model COLLATE "C"`,
      [Math.round(query.sinceMs)],
    );
    return rows(result).map(toUsageTotal);
  }

  async tokensUsedSince(scope: TokenScope, sinceMs: number): Promise<number> {
    const since = Math.round(sinceMs);
    const [column, value] = scope.kind === "user" ? ["user_id", scope.id] : ["user_workspace", scope.workspace];
    const [row] = rows(await this.#database.query(
      "count the tokens used",
      `SELECT coalesce(sum(input_tokens + output_tokens), 0)::bigint AS tokens FROM model_usage WHERE user_platform = $1 AND ${column} = $2 AND at >= $3`,
      [scope.platform, value, since],
    ));
    return integer(row ?? { tokens: 0 }, "tokens");
  }

  async recordCellRun(run: CellRunInput): Promise<void> {
    await this.#database.query(
      "record a cell run",
      `INSERT INTO cell_runs (conversation_key, turn_id, "user", user_workspace, started_at, code, outcome, duration_ms, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [run.conversationKey, run.turnId, run.user, run.workspace, Math.round(run.startedAt), run.code, run.outcome, Math.round(run.durationMs), run.error],
    );
  }

  async listCellRuns(filter: CellRunFilter = {}): Promise<CellRunRecord[]> {
    const result = await this.#database.query(
      "read the cell runs",
      `SELECT id, conversation_key, turn_id, "user", user_workspace, started_at, code, outcome, duration_ms, error
       FROM cell_runs
       WHERE ($1::text IS NULL OR conversation_key = $1)
         AND ($2::text IS NULL OR turn_id = $2)
         AND ($3::bigint IS NULL OR started_at >= $3)
         AND ($4::text IS NULL OR "user" = $4 OR substr("user", strpos("user", ':') + 1) = $4)
       ORDER BY id`,
      [filter.conversationKey ?? null, filter.turnId ?? null, filter.since === undefined ? null : Math.round(filter.since), filter.user ?? null],
    );
    return rows(result).map(toCellRun);
  }

  async claimEvent(key: string): Promise<boolean> {
    const result = await this.#database.query("claim an event", "INSERT INTO event_claims (key, claimed_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [key, this.#now()]);
    return result.rowCount === 1;
  }

  async pruneEvents(olderThanMs: number): Promise<number> {
    return (await this.#database.query("prune old events", "DELETE FROM event_claims WHERE claimed_at < $1", [this.#now() - olderThanMs])).rowCount;
  }

  async pruneAttachments(olderThanMs: number): Promise<number> {
    // The bytes live in the row: removing it removes them.
    return (await this.#database.query("prune old attachments", "DELETE FROM attachments WHERE created_at < $1", [this.#now() - olderThanMs])).rowCount;
  }

  pruneTranscripts(olderThanMs: number): Promise<number> {
    const before = this.#now() - olderThanMs;
    return this.#database.transaction("prune old transcripts", async (query) => {
      const removed = (await query("DELETE FROM transcript_items WHERE turn_id IN (SELECT id FROM turns WHERE started_at < $1)", [before])).rowCount;
      await query("UPDATE turns SET text = '' WHERE started_at < $1 AND text != ''", [before]);
      return removed;
    });
  }

  async pruneCellRuns(olderThanMs: number): Promise<number> {
    return (await this.#database.query("prune the old audit log", "DELETE FROM cell_runs WHERE started_at < $1", [this.#now() - olderThanMs])).rowCount;
  }

  recordFeedback(input: FeedbackInput): Promise<void> {
    const { user } = input;
    const now = this.#now();
    return this.#database.transaction("record feedback", async (query: Query) => {
      if ((await query("SELECT 1 FROM turns WHERE id = $1", [input.turnId])).rowCount === 0) throw new StoreError(`No turn ${input.turnId} to record feedback on.`);
      await query(
        `INSERT INTO feedback (turn_id, user_platform, user_id, user_workspace, user_display_name, rating, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (turn_id, user_platform, user_id) DO UPDATE SET
           rating = excluded.rating, created_at = excluded.created_at,
           user_workspace = excluded.user_workspace, user_display_name = excluded.user_display_name`,
        [input.turnId, user.platform, user.id, user.workspace, user.displayName, input.rating, now],
      );
    });
  }

  async listFeedback(turnId: string): Promise<FeedbackRecord[]> {
    const result = await this.#database.query(
      "read feedback",
      "SELECT turn_id, user_platform, user_id, user_workspace, user_display_name, rating, created_at FROM feedback WHERE turn_id = $1 ORDER BY created_at, seq",
      [turnId],
    );
    return rows(result).map(toFeedback);
  }

  async ping(): Promise<void> {
    await this.#database.query("answer", "SELECT 1 AS ok");
  }

  close(): Promise<void> {
    return this.#database.close();
  }
}

/**
 * Connects to the database at `url`, applies pending migrations (one
 * replica at a time) and, unless told not to, marks as failed the turns a
 * dead replica left running (those whose lease has expired).
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const location = databaseLocation(url);
  const clock = options.clock ?? Date.now;
  const database = new PostgresDatabase(url, location);
  try {
    await migratePostgres(database.pool, location, Math.round(clock()));
    const recovers = options.recoverInterruptedTurns ?? true;
    const store = new PostgresStore(database, clock, recovers);
    if (recovers) await store.failInterruptedTurns();
    return store;
  } catch (error) {
    await database.close().catch(() => undefined);
    throw postgresOpenFailure(location, error);
  }
}
