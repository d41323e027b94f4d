/** The EgressStore on the SQLite database of sqlite-store.ts (the table of migration 8). */
import type { DatabaseSync } from "node:sqlite";
import type { EgressRequestFilter, EgressRequestInput, EgressRequestRecord, EgressStore } from "./egress-store.ts";
import type { Row } from "./sqlite-rows.ts";
import { toEgressRequest } from "./store-records.ts";

type Guard = <T>(action: string, work: () => T) => Promise<T>;

export class SqliteEgressStore implements EgressStore {
  readonly #database: DatabaseSync;
  readonly #guard: Guard;
  readonly #insert;

  constructor(database: DatabaseSync, guard: Guard) {
    this.#database = database;
    this.#guard = guard;
    this.#insert = database.prepare(
      `INSERT INTO egress_requests (conversation_key, turn_id, user_platform, user_id, user_workspace, method, host, port, address, allowed, reason, bytes_out, bytes_in, started_at, duration_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  recordRequest(request: EgressRequestInput): Promise<void> {
    return this.#guard("recording an egress request", () => {
      this.#insert.run(
        request.conversationKey, request.turnId, request.user.platform, request.user.id, request.user.workspace,
        request.method, request.host, request.port, request.address, request.allowed ? 1 : 0, request.reason,
        request.bytesOut, request.bytesIn, request.startedAt, Math.round(request.durationMs),
      );
    });
  }

  listRequests(filter: EgressRequestFilter = {}): Promise<EgressRequestRecord[]> {
    return this.#guard("listing egress requests", () => {
      const where: string[] = [];
      const values: (string | number)[] = [];
      if (filter.since !== undefined) {
        where.push("started_at >= ?");
        values.push(filter.since);
      }
      if (filter.conversationKey !== undefined) {
        where.push("conversation_key = ?");
        values.push(filter.conversationKey);
      }
      if (filter.user !== undefined) {
        const colon = filter.user.indexOf(":");
        if (colon < 0) {
          where.push("user_id = ?");
          values.push(filter.user);
        } else {
          where.push("user_platform = ? AND user_id = ?");
          values.push(filter.user.slice(0, colon), filter.user.slice(colon + 1));
        }
      }
      const sql = `SELECT * FROM egress_requests ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY started_at, id`;
      return (this.#database.prepare(sql).all(...values) as Row[]).map(toEgressRequest);
    });
  }
}
