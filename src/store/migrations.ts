/**
 * The schema, as an ordered list of migrations. A migration, once released,
 * never changes: a new need is a new version appended at the end.
 * `schema_migrations` records every version applied to a database.
 */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "../errors.ts";
import { createTransaction } from "./sqlite-transaction.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: "conversations, turns, transcript, cell runs, event claims",
    sql: `
      CREATE TABLE conversations (
        key TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        session_id TEXT,
        session_bound_at INTEGER
      ) STRICT;

      CREATE TABLE turns (
        id TEXT PRIMARY KEY,
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        user TEXT NOT NULL,
        text TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        status TEXT NOT NULL CHECK (status IN ('running', 'answered', 'limit', 'failed')),
        limit_name TEXT CHECK (limit_name IN ('steps', 'cells', 'time', 'tokens')),
        error TEXT
      ) STRICT;
      CREATE INDEX turns_by_conversation ON turns (conversation_key, started_at);
      CREATE INDEX turns_running ON turns (status) WHERE status = 'running';

      CREATE TABLE transcript_items (
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        seq INTEGER NOT NULL,
        turn_id TEXT NOT NULL REFERENCES turns (id),
        item_json TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (conversation_key, seq)
      ) STRICT;

      CREATE TABLE cell_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        turn_id TEXT NOT NULL REFERENCES turns (id),
        user TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        code TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'timeout', 'lost')),
        duration_ms INTEGER NOT NULL,
        error TEXT
      ) STRICT;
      CREATE INDEX cell_runs_by_conversation ON cell_runs (conversation_key, id);
      CREATE INDEX cell_runs_by_turn ON cell_runs (turn_id, id);

      CREATE TABLE event_claims (
        key TEXT PRIMARY KEY,
        claimed_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX event_claims_by_age ON event_claims (claimed_at);
    `,
  },
  {
    version: 2,
    name: "kept attachments",
    sql: `
      CREATE TABLE attachments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        name TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        path TEXT NOT NULL UNIQUE
      ) STRICT;
      CREATE INDEX attachments_by_conversation ON attachments (conversation_key, id);
    `,
  },
  {
    version: 3,
    name: "who started a turn, as a record; the workspace of a cell run's user",
    // Version 1 kept the user as one "platform:id" string; it splits at the first colon.
    // SQLite adds a NOT NULL column only with a default; every insert gives the value.
    sql: `
      ALTER TABLE turns ADD COLUMN user_platform TEXT NOT NULL DEFAULT '';
      ALTER TABLE turns ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
      ALTER TABLE turns ADD COLUMN user_workspace TEXT;
      ALTER TABLE turns ADD COLUMN user_display_name TEXT;
      UPDATE turns SET
        user_platform = CASE WHEN instr(user, ':') > 0 THEN substr(user, 1, instr(user, ':') - 1) ELSE 'unknown' END,
        user_id = CASE WHEN instr(user, ':') > 0 THEN substr(user, instr(user, ':') + 1) ELSE user END;
      ALTER TABLE turns DROP COLUMN user;
      CREATE INDEX turns_by_user ON turns (user_platform, user_id, started_at);

      ALTER TABLE cell_runs ADD COLUMN user_workspace TEXT;
    `,
  },
  {
    version: 4,
    name: "feedback on turns",
    sql: `
      CREATE TABLE feedback (
        turn_id TEXT NOT NULL REFERENCES turns (id),
        user_platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_workspace TEXT,
        user_display_name TEXT,
        rating TEXT NOT NULL CHECK (rating IN ('positive', 'negative')),
        created_at INTEGER NOT NULL,
        PRIMARY KEY (turn_id, user_platform, user_id)
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: "skills: every version of each, with its files",
    sql: `
      CREATE TABLE skills (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
        description TEXT NOT NULL,
        stems_json TEXT NOT NULL,
        proposed_by TEXT NOT NULL,
        proposed_at INTEGER NOT NULL,
        conversation_key TEXT,
        decided_by TEXT,
        decided_at INTEGER,
        UNIQUE (scope, name, version)
      ) STRICT;
      CREATE INDEX skills_by_status ON skills (status, scope);

      CREATE TABLE skill_files (
        skill_id INTEGER NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        position INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (skill_id, path)
      ) STRICT;
    `,
  },
  {
    version: 6,
    name: "usage ledger of model steps; the daily token budget that ended a turn",
    // turns.limit_name's CHECK cannot widen without rebuilding the table, so
    // a turn a budget ended keeps limit_name NULL and says which budget here.
    sql: `
      CREATE TABLE model_usage (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        turn_id TEXT NOT NULL REFERENCES turns (id),
        conversation_key TEXT NOT NULL,
        user_platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_workspace TEXT,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
        cached_input_tokens INTEGER NOT NULL CHECK (cached_input_tokens >= 0),
        output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
        reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0)
      ) STRICT;
      CREATE INDEX model_usage_by_time ON model_usage (at);
      CREATE INDEX model_usage_by_user ON model_usage (user_platform, user_id, at);
      CREATE INDEX model_usage_by_workspace ON model_usage (user_platform, user_workspace, at);

      ALTER TABLE turns ADD COLUMN limit_budget TEXT CHECK (limit_budget IN ('user', 'workspace'));
    `,
  },
  {
    version: 7,
    name: "notebook: each turn's attachments and answer, each cell's outputs and figures",
    // A reset deletes a conversation's notebook_turns; its cells and figures go with them.
    sql: `
      CREATE TABLE notebook_turns (
        turn_id TEXT PRIMARY KEY REFERENCES turns (id),
        conversation_key TEXT NOT NULL REFERENCES conversations (key),
        attachments_json TEXT NOT NULL,
        answer TEXT
      ) STRICT;
      CREATE INDEX notebook_turns_by_conversation ON notebook_turns (conversation_key);

      CREATE TABLE notebook_cells (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
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
      ) STRICT;
      CREATE INDEX notebook_cells_by_turn ON notebook_cells (turn_id, id);

      CREATE TABLE notebook_figures (
        cell_id INTEGER NOT NULL REFERENCES notebook_cells (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        png BLOB NOT NULL,
        PRIMARY KEY (cell_id, position)
      ) STRICT;
    `,
  },
  {
    version: 8,
    name: "egress: every request through a session's door out, allowed or refused",
    // No foreign keys: a request is recorded whoever held the session, and a reset keeps them (the audit).
    sql: `
      CREATE TABLE egress_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_key TEXT NOT NULL,
        turn_id TEXT,
        user_platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        user_workspace TEXT,
        method TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        address TEXT,
        allowed INTEGER NOT NULL CHECK (allowed IN (0, 1)),
        reason TEXT,
        bytes_out INTEGER NOT NULL,
        bytes_in INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL
      ) STRICT;
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
        data BLOB,
        names_json TEXT NOT NULL,
        skipped_json TEXT NOT NULL,
        note TEXT,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 11,
    name: "conversation leases; which store holder ran a turn",
    sql: `
      CREATE TABLE conversation_leases (
        conversation_key TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;

      ALTER TABLE turns ADD COLUMN holder TEXT;
    `,
  },
];

export const latestSchemaVersion = migrations.at(-1)?.version ?? 0;

/**
 * Applies every migration the database lacks, in version order, each in its own transaction.
 * Refuses a database written by a newer threadbook rather than guess at it.
 */
export function migrate(database: DatabaseSync, location: string, now: number): void {
  database.exec(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT
  `);
  const newestApplied = database.prepare("SELECT coalesce(max(version), 0) AS version FROM schema_migrations");
  const isApplied = database.prepare("SELECT 1 AS applied FROM schema_migrations WHERE version = ?");
  const recordApplied = database.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
  const transaction = createTransaction(database);

  const found = Number(newestApplied.get()?.version ?? 0);
  if (found > latestSchemaVersion) {
    throw new StoreError(
      `The database at ${location} has schema version ${found}, but this threadbook knows only up to version ${latestSchemaVersion}. ` +
        "Run a newer threadbook, or point THREADBOOK_DATA_DIR at another directory.",
      { details: { location, found, latest: latestSchemaVersion } },
    );
  }

  // Every version not yet applied, even below the newest applied one: branches
  // of the schema merged in another order leave gaps that are filled in.
  for (const migration of migrations) {
    if (isApplied.get(migration.version) !== undefined) continue;
    transaction(() => {
      // Another process may have applied it since `found` was read.
      if (isApplied.get(migration.version) !== undefined) return;
      database.exec(migration.sql);
      recordApplied.run(migration.version, migration.name, now);
    });
  }
}
