/**
 * The connection pool the Postgres store runs on: every query with a
 * deadline, every failure a StoreError, transactions on one connection, and
 * a close that first lets the queries already sent finish (a turn marked
 * failed as the process stops is recorded without being awaited).
 */
import pg from "pg";
import { postgresOperationFailure } from "./postgres-errors.ts";

/** How long a connection may take to open, and a query to answer, before it fails. */
const connectTimeoutMs = 10_000;
const queryTimeoutMs = 30_000;
/** Connections one replica holds at most. */
const poolSize = 10;

const int8 = 20;

/** A row as `pg` gives it: column name to value (BIGINT as a number, BYTEA as a Buffer). */
export type PostgresRow = Record<string, unknown>;

/**
 * Postgres text cannot hold NUL, which a cell's output or code may: each
 * becomes U+FFFD, the replacement character, rather than fail the write.
 * Bytes (Buffers) go as they are.
 */
function storable(values: readonly unknown[]): unknown[] {
  return values.map((value) => (typeof value === "string" && value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value));
}

/** Runs one statement; in a transaction, on its connection. */
export type Query = (sql: string, values?: readonly unknown[]) => Promise<{ rows: PostgresRow[]; rowCount: number }>;

export class PostgresDatabase {
  readonly location: string;
  readonly pool: pg.Pool;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(url: string, location: string) {
    this.location = location;
    this.pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      connectionTimeoutMillis: connectTimeoutMs,
      query_timeout: queryTimeoutMs,
      // Epoch milliseconds and ids are BIGINT: well within a double's exact integers.
      types: { getTypeParser: ((oid: number, format?: "text" | "binary") => (oid === int8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
    });
    // An idle connection that breaks (the server restarted) is dropped by the pool; the next query reports it.
    this.pool.on("error", () => undefined);
  }

  /** One statement, outside any transaction; `action` completes "could not …" in its error. */
  query(action: string, sql: string, values: readonly unknown[] = []): Promise<{ rows: PostgresRow[]; rowCount: number }> {
    return this.#track(action, async () => {
      const result = await this.pool.query(sql, storable(values));
      return { rows: result.rows as PostgresRow[], rowCount: result.rowCount ?? 0 };
    });
  }

  /** Runs work on one connection in one transaction, rolled back if it throws. */
  transaction<T>(action: string, work: (query: Query) => Promise<T>): Promise<T> {
    return this.#track(action, async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query("BEGIN");
        try {
          const result = await work(async (sql, values = []) => {
            const answer = await client.query(sql, storable(values));
            return { rows: answer.rows as PostgresRow[], rowCount: answer.rowCount ?? 0 };
          });
          await client.query("COMMIT");
          return result;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => {
            broken = true;
          });
          throw error;
        }
      } finally {
        client.release(broken);
      }
    });
  }

  /** Waits for the statements already sent, then closes every connection; calling it again does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.pool.end();
  }

  #track<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(postgresOperationFailure(this.location, action, new Error("the store is closed")));
    const running = work().catch((error: unknown) => {
      throw postgresOperationFailure(this.location, action, error);
    });
    this.#inFlight.add(running);
    const settled = () => this.#inFlight.delete(running);
    running.then(settled, settled);
    return running;
  }
}
