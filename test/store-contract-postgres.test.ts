/**
 * The Store contract (store-contract.ts) on Postgres: a real server from
 * Debian's packages, started for this file on a Unix socket in a temporary
 * directory, each test in a fresh database. Then what is Postgres's own:
 * its failures to open, and the settings that choose it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { StoreError } from "../src/errors.ts";
import { openStore } from "../src/store/open-store.ts";
import { databaseFileName } from "../src/store/sqlite-store.ts";
import { postgresMigrations } from "../src/store/postgres-migrations.ts";
import { openPostgresStore } from "../src/store/postgres-store.ts";
import { storeContract } from "./store-contract.ts";
import { startPostgres, type PostgresServer } from "./support/postgres.ts";

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(() => server?.stop());

storeContract("Postgres", {
  fresh: () => server.createDatabase(),
  open: (url, options) => openPostgresStore(url, options),
  rowCount: async (url, table) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return Number((await client.query(`SELECT count(*) AS count FROM ${table}`)).rows[0].count);
    } finally {
      await client.end();
    }
  },
  sharedByReplicas: true,
  migrationCount: postgresMigrations.length,
});

test("a database that cannot be opened gives a StoreError in plain words that names THREADBOOK_DATABASE_URL and never the password", async () => {
  const missing = server.url("no_such_database").replace("threadbook@", "threadbook:hunter2@");
  await assert.rejects(openPostgresStore(missing), (error: unknown) => {
    assert.ok(error instanceof StoreError);
    assert.match(error.message, /^Cannot open the database at postgresql:\/\/threadbook:\*\*\*@localhost\/no_such_database\?host=.*: the database does not exist\. Check THREADBOOK_DATABASE_URL\.$/);
    assert.ok(!JSON.stringify({ message: error.message, details: error.details }).includes("hunter2"));
    return true;
  });
  const nowhere = mkdtempSync(join(tmpdir(), "threadbook-no-postgres-"));
  try {
    await assert.rejects(openPostgresStore(`postgresql://threadbook@localhost/x?host=${encodeURIComponent(nowhere)}`), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.match(error.message, /: (no socket at that path|nothing answers at that address)\. Check THREADBOOK_DATABASE_URL\.$/);
      assert.equal(error.retryable, /nothing answers/.test(error.message));
      return true;
    });
  } finally {
    rmSync(nowhere, { recursive: true, force: true });
  }
});

test("the settings choose the store: Postgres when THREADBOOK_DATABASE_URL is set, SQLite in the data directory otherwise", async (t) => {
  const url = await server.createDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-open-store-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const onPostgres = await openStore({ dataDir, databaseUrl: url }, { recoverInterruptedTurns: false });
  await onPostgres.claimEvent("chosen");
  await onPostgres.close();
  assert.equal(existsSync(join(dataDir, databaseFileName)), false, "no SQLite file beside it");
  const onSqlite = await openStore({ dataDir, databaseUrl: undefined }, { recoverInterruptedTurns: false });
  t.after(() => onSqlite.close());
  assert.equal(await onSqlite.claimEvent("chosen"), true, "another database");
  assert.equal(existsSync(join(dataDir, databaseFileName)), true);
  const again = await openStore({ dataDir, databaseUrl: url }, { recoverInterruptedTurns: false });
  t.after(() => again.close());
  assert.equal(await again.claimEvent("chosen"), false);
});

test("three processes starting at the same moment on a fresh database migrate it once, and all three open it", async () => {
  const url = await server.createDatabase();
  const storeModule = new URL("../src/store/postgres-store.ts", import.meta.url).href;
  const script = `
    const { openPostgresStore } = await import(${JSON.stringify(storeModule)});
    const store = await openPostgresStore(process.argv[1]);
    await store.ping();
    await store.close();
    console.log("opened");`;
  const results = await Promise.all([1, 2, 3].map(() => new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "--no-warnings", "-e", script, url], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.once("exit", (code) => resolve({ code, output }));
  })));
  assert.deepEqual(results.map((result) => [result.code, result.output.trim()]), [[0, "opened"], [0, "opened"], [0, "opened"]]);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const applied = await client.query("SELECT version FROM schema_migrations ORDER BY version");
    assert.deepEqual(applied.rows.map((row) => row.version), postgresMigrations.map((migration) => migration.version));
  } finally {
    await client.end();
  }
});
