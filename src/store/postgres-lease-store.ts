/** The LeaseStore on the Postgres database of postgres-store.ts (table of migration 11). */
import type { LeaseStore } from "./lease-store.ts";
import type { PostgresDatabase } from "./postgres-database.ts";

export class PostgresLeaseStore implements LeaseStore {
  readonly holder: string;
  readonly #database: PostgresDatabase;
  readonly #now: () => number;

  constructor(database: PostgresDatabase, holder: string, now: () => number) {
    this.holder = holder;
    this.#database = database;
    this.#now = now;
  }

  async acquire(conversationKey: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    // One statement: two replicas racing for a free or expired lease cannot both win it.
    const result = await this.#database.query(
      "take a conversation's lease",
      `INSERT INTO conversation_leases (conversation_key, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (conversation_key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE conversation_leases.holder = excluded.holder OR conversation_leases.expires_at <= $4`,
      [conversationKey, this.holder, now + Math.round(ttlMs), now],
    );
    return result.rowCount === 1;
  }

  async renew(conversationKey: string, ttlMs: number): Promise<boolean> {
    const result = await this.#database.query(
      "renew a conversation's lease",
      "UPDATE conversation_leases SET expires_at = $1 WHERE conversation_key = $2 AND holder = $3",
      [this.#now() + Math.round(ttlMs), conversationKey, this.holder],
    );
    return result.rowCount === 1;
  }

  async release(conversationKey: string): Promise<void> {
    await this.#database.query("give up a conversation's lease", "DELETE FROM conversation_leases WHERE conversation_key = $1 AND holder = $2", [conversationKey, this.holder]);
  }
}
