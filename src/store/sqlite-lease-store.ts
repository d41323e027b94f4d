/** The LeaseStore on the SQLite database of sqlite-store.ts (table of migration 11). */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { LeaseStore } from "./lease-store.ts";

type Guard = <T>(action: string, work: () => T) => Promise<T>;

export class SqliteLeaseStore implements LeaseStore {
  readonly holder: string;
  readonly #now: () => number;
  readonly #guard: Guard;
  readonly #acquire: StatementSync;
  readonly #renew: StatementSync;
  readonly #release: StatementSync;

  constructor(database: DatabaseSync, holder: string, now: () => number, guard: Guard) {
    this.holder = holder;
    this.#now = now;
    this.#guard = guard;
    this.#acquire = database.prepare(
      `INSERT INTO conversation_leases (conversation_key, holder, expires_at) VALUES (:key, :holder, :expires)
       ON CONFLICT (conversation_key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE conversation_leases.holder = excluded.holder OR conversation_leases.expires_at <= :now`,
    );
    this.#renew = database.prepare("UPDATE conversation_leases SET expires_at = ? WHERE conversation_key = ? AND holder = ?");
    this.#release = database.prepare("DELETE FROM conversation_leases WHERE conversation_key = ? AND holder = ?");
  }

  acquire(conversationKey: string, ttlMs: number): Promise<boolean> {
    return this.#guard("take a conversation's lease", () => {
      const now = this.#now();
      return Number(this.#acquire.run({ key: conversationKey, holder: this.holder, expires: now + Math.round(ttlMs), now }).changes) === 1;
    });
  }

  renew(conversationKey: string, ttlMs: number): Promise<boolean> {
    return this.#guard("renew a conversation's lease", () => Number(this.#renew.run(this.#now() + Math.round(ttlMs), conversationKey, this.holder).changes) === 1);
  }

  release(conversationKey: string): Promise<void> {
    return this.#guard("give up a conversation's lease", () => {
      this.#release.run(conversationKey, this.holder);
    });
  }
}
