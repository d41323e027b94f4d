/**
 * Schema version 6 applied over a version-5 SQLite database with its rows
 * kept. The ledger itself is in the Store contract (store-contract.ts).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, test } from "node:test";
import { migrations } from "../src/store/migrations.ts";
import { databaseFileName, openSqliteStore } from "../src/store/sqlite-store.ts";
import type { UserRecord } from "../src/store/store.ts";

const ada: UserRecord = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };

let root: string;
let count = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "threadbook-store-usage-"));
});
after(() => rmSync(root, { recursive: true, force: true }));
const freshDir = () => join(root, `data-${++count}`);

test("schema version 6 goes over a version-5 database additively: its turns keep their limits, and the ledger starts empty", async (t) => {
  const dataDir = freshDir();
  const store = openSqliteStore(dataDir);
  const turn = await store.startTurn({ conversationKey: "k", user: ada, text: "q" });
  await store.finishTurn(turn, { status: "limit", limit: "cells", error: null });
  await store.close();
  // Back to version 5, as a database the previous threadbook wrote.
  const database = new DatabaseSync(join(dataDir, databaseFileName));
  database.exec("DROP TABLE model_usage; ALTER TABLE turns DROP COLUMN limit_budget; DELETE FROM schema_migrations WHERE version = 6;");
  database.close();
  const upgraded = openSqliteStore(dataDir);
  t.after(() => upgraded.close());
  assert.ok(migrations.some((migration) => migration.version === 6), "version 6 is a migration, applied again over version 5");
  assert.equal((await upgraded.getTurn(turn))?.limit, "cells");
  assert.deepEqual(await upgraded.usageTotals({ sinceMs: 0, by: "user" }), []);
});
