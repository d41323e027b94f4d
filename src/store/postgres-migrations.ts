/**
 * The Postgres schema, as an ordered list of migrations with the same
 * versions and meaning as SQLite's (migrations.ts): version N here makes the
 * change version N makes there, in Postgres's words. Times are epoch
 * milliseconds (BIGINT), bytes are BYTEA, and `"user"` is quoted (a reserved
 * word in Postgres). Where SQLite orders by its implicit rowid, a table here
 * has its own increasing column. A migration, once released, never changes.
 *
 * Several replicas may start at the same moment: `migrate` runs every
 * pending migration in one transaction that first takes a
 * transaction-scoped advisory lock (`pg_advisory_xact_lock`), so one replica
 * migrates while the others wait and then find nothing left to do. A
 * session-level lock would outlive the transaction on a pooled connection,
 * and breaks behind PgBouncer in transaction mode.
 */
import type { Pool, QueryConfig } from "pg";
import { StoreError } from "../errors.ts";
import type { Migration } from "./migrations.ts";

/** The advisory lock key migrating holds: any fixed 64-bit number no other lock of the database uses. */
const migrationLockKey = 7_341_029_118;
/** Waiting for another replica's migration, and a migration of a large database, may take long; not for ever. */
const migrationTimeoutMs = 15 * 60_000;

export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: "conversations, turns, transcript, cell runs, event claims",
    sql: `
      CREATE TABLE conversations (
        key TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        session_id TEXT,
        session_bound_at BIGINT
      );

      CREATE TABLE turns (
        id TEXT PRIMARY KEY,
        seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        "user" TEXT NOT NULL,
        text TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT,
        status TEXT NOT NULL CHECK (status IN ('running', 'answered', 'limit', 'failed')),
        limit_name TEXT CHECK (limit_name IN ('steps', 'cells', 'time', 'tokens')),
        error TEXT
      );
      CREATE INDEX turns_by_conversation ON turns (conversation_key, started_at);
      CREATE INDEX turns_running ON turns (status) WHERE status = 'running';

      CREATE TABLE transcript_items (
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        seq BIGINT NOT NULL,
        turn_id TEXT NOT NULL REFERENCES turns (id),
        item_json TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (conversation_key, seq)
      );

      CREATE TABLE cell_runs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        turn_id TEXT NOT NULL REFERENCES turns (id),
        "user" TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        code TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'timeout', 'lost')),
        duration_ms BIGINT NOT NULL,
        error TEXT
      );
      CREATE INDEX cell_runs_by_conversation ON cell_runs (conversation_key, id);
      CREATE INDEX cell_runs_by_turn ON cell_runs (turn_id, id);

      CREATE TABLE event_claims (
        key TEXT PRIMARY KEY,
        claimed_at BIGINT NOT NULL
      );
      CREATE INDEX event_claims_by_age ON event_claims (claimed_at);
    `,
  },
  {
    version: 2,
    name: "kept attachments",
    // The bytes live in the row, so that any replica can put them back; `path` names the row.
    sql: `
      CREATE TABLE attachments (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        name TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        data BYTEA NOT NULL
      );
      CREATE INDEX attachments_by_conversation ON attachments (conversation_key, id);
    `,
  },
  {
    version: 3,
    name: "who started a turn, as a record; the workspace of a cell run's user",
    // Version 1 kept the user as one "platform:id" string; it splits at the first colon.
    sql: `
      ALTER TABLE turns ADD COLUMN user_platform TEXT NOT NULL DEFAULT '';
      ALTER TABLE turns ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
      ALTER TABLE turns ADD COLUMN user_workspace TEXT;
      ALTER TABLE turns ADD COLUMN user_display_name TEXT;
      UPDATE turns SET
        user_platform = CASE WHEN strpos("user", ':') > 0 THEN substr("user", 1, strpos("user", ':') - 1) ELSE 'unknown' END,
        user_id = CASE WHEN strpos("user", ':') > 0 THEN substr("user", strpos("user", ':') + 1) ELSE "user" END;
      ALTER TABLE turns DROP COLUMN "user";
      CREATE INDEX turns_by_user ON turns (user_platform, user_id, started_at);

      ALTER TABLE cell_runs ADD COLUMN user_workspace TEXT;
    `,
  },
  {
    version: 4,
    name: "feedback on turns",
    sql: `
      CREATE TABLE feedback (
        seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        turn_id TEXT NOT NULL REFERENCES turns (id),
        user_platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_workspace TEXT,
        user_display_name TEXT,
        rating TEXT NOT NULL CHECK (rating IN ('positive', 'negative')),
        created_at BIGINT NOT NULL,
        PRIMARY KEY (turn_id, user_platform, user_id)
      );
    `,
  },
  {
    version: 5,
    name: "skills: every version of each, with its files",
    sql: `
      CREATE TABLE skills (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
        description TEXT NOT NULL,
        stems_json TEXT NOT NULL,
        proposed_by TEXT NOT NULL,
        proposed_at BIGINT NOT NULL,
        conversation_key TEXT,
        decided_by TEXT,
        decided_at BIGINT,
        UNIQUE (scope, name, version)
      );
      CREATE INDEX skills_by_status ON skills (status, scope);

      CREATE TABLE skill_files (
        skill_id BIGINT NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        position INTEGER NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (skill_id, path)
      );
    `,
  },
  {
    version: 6,
    name: "usage ledger of model steps; the daily token budget that ended a turn",
    sql: `
      CREATE TABLE model_usage (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        turn_id TEXT NOT NULL REFERENCES turns (id),
        conversation_key TEXT NOT NULL,
        user_platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_workspace TEXT,
        model TEXT NOT NULL,
        input_tokens BIGINT NOT NULL CHECK (input_tokens >= 0),
        cached_input_tokens BIGINT NOT NULL CHECK (cached_input_tokens >= 0),
        output_tokens BIGINT NOT NULL CHECK (output_tokens >= 0),
        reasoning_tokens BIGINT NOT NULL CHECK (reasoning_tokens >= 0)
      );
      CREATE INDEX model_usage_by_time ON model_usage (at);
      CREATE INDEX model_usage_by_user ON model_usage (user_platform, user_id, at);
      CREATE INDEX model_usage_by_workspace ON model_usage (user_platform, user_workspace, at);

      ALTER TABLE turns ADD COLUMN limit_budget TEXT CHECK (limit_budget IN ('user', 'workspace'));
    `,
  },
  {
    version: 7,
    name: "notebook: each turn's attachments and answer, each cell's outputs and figures",
    sql: `
      CREATE TABLE notebook_turns (
        turn_id TEXT PRIMARY KEY REFERENCES turns (id),
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        attachments_json TEXT NOT NULL,
        answer TEXT
      );
      CREATE INDEX notebook_turns_by_conversation ON notebook_turns (conversation_key);

      CREATE TABLE notebook_cells (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        turn_id TEXT NOT NULL REFERENCES notebook_turns (turn_id) ON DELETE CASCADE,
        code TEXT NOT NULL,
        stdout TEXT NOT NULL,
        stderr TEXT NOT NULL,
        value_text TEXT,
        value_html TEXT,
        error_name TEXT,
        error_message TEXT,
        error_traceback TEXT,
        figures_omitted_json TEXT NOT NULL
      );
      CREATE INDEX notebook_cells_by_turn ON notebook_cells (turn_id, id);

      CREATE TABLE notebook_figures (
        cell_id BIGINT NOT NULL REFERENCES notebook_cells (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        png BYTEA NOT NULL,
        PRIMARY KEY (cell_id, position)
      );
    `,
  },
  {
    version: 8,
    name: "egress: every request through a session's door out, allowed or refused",
    sql: `
      CREATE TABLE egress_requests (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_key TEXT NOT NULL,
        turn_id TEXT,
        user_platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_workspace TEXT,
        method TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        address TEXT,
        allowed BOOLEAN NOT NULL,
        reason TEXT,
        bytes_out BIGINT NOT NULL,
        bytes_in BIGINT NOT NULL,
        started_at BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL
      );
      CREATE INDEX egress_requests_by_time ON egress_requests (started_at);
      CREATE INDEX egress_requests_by_conversation ON egress_requests (conversation_key, started_at);
    `,
  },
  {
    version: 9,
    name: "indexes for pruning by age",
    sql: `
      CREATE INDEX attachments_by_age ON attachments (created_at);
      CREATE INDEX turns_by_age ON turns (started_at);
      CREATE INDEX cell_runs_by_age ON cell_runs (started_at);
      CREATE INDEX transcript_items_by_turn ON transcript_items (turn_id);
    `,
  },
  {
    version: 10,
    name: "each conversation's latest saved variables",
    sql: `
      CREATE TABLE snapshots (
        conversation_key TEXT PRIMARY KEY REFERENCES conversations (key),
        data BYTEA,
        names_json TEXT NOT NULL,
        skipped_json TEXT NOT NULL,
        note TEXT,
        created_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: "conversation leases; which store holder ran a turn",
    sql: `
      CREATE TABLE conversation_leases (
        conversation_key TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );

      ALTER TABLE turns ADD COLUMN holder TEXT;
    `,
  },
];

/** A statement with the migration's own deadline; `pg` reads a query's `query_timeout`, which its types leave out. */
function longQuery(text: string, values: unknown[] = []): QueryConfig {
  return { text, values, query_timeout: migrationTimeoutMs } as QueryConfig;
}

export const latestPostgresSchemaVersion = postgresMigrations.at(-1)?.version ?? 0;

/**
 * Applies every migration the database lacks, in version order, all in one
 * transaction under the migration lock. Refuses a database written by a
 * newer threadbook rather than guess at it.
 */
export async function migratePostgres(pool: Pool, location: string, now: number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    try {
      await client.query(longQuery("SELECT pg_advisory_xact_lock($1)", [migrationLockKey]));
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY,
          name TEXT NOT NULL,
          applied_at BIGINT NOT NULL
        )`);
      const applied = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((row) => Number(row.version)));
      const newest = Math.max(0, ...applied);
      if (newest > latestPostgresSchemaVersion) {
        throw new StoreError(
          `The database at ${location} has schema version ${newest}, but this threadbook knows only up to version ${latestPostgresSchemaVersion}. ` +
            "Run a newer threadbook, or point THREADBOOK_DATABASE_URL at another database.",
          { details: { location, found: newest, latest: latestPostgresSchemaVersion } },
        );
      }
      for (const migration of postgresMigrations) {
        if (applied.has(migration.version)) continue;
        await client.query(longQuery(migration.sql));
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [migration.version, migration.name, now]);
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  } finally {
    client.release();
  }
}
