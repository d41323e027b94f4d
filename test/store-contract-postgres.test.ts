/**
 * The Store contract (store-contract.ts) on Postgres: a real server from
 * Debian's packages, started for this file on a Unix socket in a temporary
 * directory, each test in a fresh database.
 */
import { after, before } from "node:test";
import pg from "pg";
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
