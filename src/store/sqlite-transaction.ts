import type { DatabaseSync } from "node:sqlite";

export type Transaction = <T>(work: () => T) => T;

/**
 * Runs work in one transaction, rolled back if it throws. IMMEDIATE takes the
 * write lock up front, so two connections reading then writing (e.g. the next
 * transcript seq) wait on the busy timeout instead of failing with SQLITE_BUSY
 * when they try to upgrade a read lock.
 */
export function createTransaction(database: DatabaseSync): Transaction {
  const begin = database.prepare("BEGIN IMMEDIATE");
  const commit = database.prepare("COMMIT");
  const rollback = database.prepare("ROLLBACK");
  return (work) => {
    begin.run();
    try {
      const result = work();
      commit.run();
      return result;
    } catch (error) {
      if (database.isTransaction) rollback.run();
      throw error;
    }
  };
}
