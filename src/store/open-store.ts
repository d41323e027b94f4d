/**
 * Opens the store the settings name: Postgres when THREADBOOK_DATABASE_URL
 * is set (the state several replicas share), SQLite in THREADBOOK_DATA_DIR
 * otherwise. The Postgres client is loaded only when it is used.
 */
import type { Store } from "./store.ts";

export interface OpenStoreOptions {
  /** Mark turns a crash left running as failed: only the process that runs the bot should (see SqliteStoreOptions). */
  recoverInterruptedTurns: boolean;
}

export async function openStore(settings: { dataDir: string; databaseUrl: string | undefined }, options: OpenStoreOptions): Promise<Store> {
  if (settings.databaseUrl !== undefined) {
    const { openPostgresStore } = await import("./postgres-store.ts");
    return openPostgresStore(settings.databaseUrl, options);
  }
  const { openSqliteStore } = await import("./sqlite-store.ts");
  return openSqliteStore(settings.dataDir, options);
}
