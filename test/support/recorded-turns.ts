/** The turns a store recorded, read straight from its database: also after the process that wrote them has gone. */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { databaseFileName } from "../../src/store/sqlite-store.ts";

export interface RecordedTurn {
  conversationKey: string;
  status: string;
  error: string | null;
}

/** Every turn, or the conversation's, oldest first. Read-only, so no recovery of interrupted turns hides one left running. */
export function recordedTurns(dataDir: string, conversationKey?: string): RecordedTurn[] {
  const database = new DatabaseSync(join(dataDir, databaseFileName), { readOnly: true });
  try {
    const rows = database
      .prepare("SELECT conversation_key, status, error FROM turns WHERE ?1 IS NULL OR conversation_key = ?1 ORDER BY started_at, rowid")
      .all(conversationKey ?? null);
    return rows.map((row) => ({ conversationKey: String(row["conversation_key"]), status: String(row["status"]), error: row["error"] === null ? null : String(row["error"]) }));
  } finally {
    database.close();
  }
}
