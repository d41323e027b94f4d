/** The Store contract (store-contract.ts) on SQLite, each test in a fresh data directory. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before } from "node:test";
import { migrations } from "../src/store/migrations.ts";
import { databaseFileName, openSqliteStore } from "../src/store/sqlite-store.ts";
import { storeContract } from "./store-contract.ts";

let root: string;
let places = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "threadbook-store-contract-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

storeContract("SQLite", {
  fresh: () => Promise.resolve(join(root, `data-${++places}`)),
  open: (dataDir, options) => Promise.resolve(openSqliteStore(dataDir, options)),
  rowCount: (dataDir, table) => {
    const database = new DatabaseSync(join(dataDir, databaseFileName));
    try {
      return Promise.resolve(Number(database.prepare(`SELECT count(*) AS count FROM ${table}`).get()?.count));
    } finally {
      database.close();
    }
  },
  sharedByReplicas: false,
  migrationCount: migrations.length,
});
