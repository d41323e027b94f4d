/** The EgressStore on the Postgres database of postgres-store.ts (the table of migration 8). */
import type { EgressRequestFilter, EgressRequestInput, EgressRequestRecord, EgressStore } from "./egress-store.ts";
import type { PostgresDatabase } from "./postgres-database.ts";
import type { Row } from "./sqlite-rows.ts";
import { toEgressRequest } from "./store-records.ts";

export class PostgresEgressStore implements EgressStore {
  readonly #database: PostgresDatabase;

  constructor(database: PostgresDatabase) {
    this.#database = database;
  }

  async recordRequest(request: EgressRequestInput): Promise<void> {
    await this.#database.query(
      "record an egress request",
      `INSERT INTO egress_requests (conversation_key, turn_id, user_platform, user_id, user_workspace, method, host, port, address, allowed, reason, bytes_out, bytes_in, started_at, duration_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        request.conversationKey, request.turnId, request.user.platform, request.user.id, request.user.workspace,
        request.method, request.host, request.port, request.address, request.allowed, request.reason,
        request.bytesOut, request.bytesIn, Math.round(request.startedAt), Math.round(request.durationMs),
      ],
    );
  }

  async listRequests(filter: EgressRequestFilter = {}): Promise<EgressRequestRecord[]> {
    const colon = filter.user?.indexOf(":") ?? -1;
    const platform = filter.user !== undefined && colon >= 0 ? filter.user.slice(0, colon) : null;
    const id = filter.user === undefined ? null : colon >= 0 ? filter.user.slice(colon + 1) : filter.user;
    const result = await this.#database.query(
      "list egress requests",
      `SELECT * FROM egress_requests
       WHERE ($1::bigint IS NULL OR started_at >= $1)
         AND ($2::text IS NULL OR conversation_key = $2)
         AND ($3::text IS NULL OR user_id = $3)
         AND ($4::text IS NULL OR user_platform = $4)
       ORDER BY started_at, id`,
      [filter.since === undefined ? null : Math.round(filter.since), filter.conversationKey ?? null, id, platform],
    );
    return (result.rows as Row[]).map(toEgressRequest);
  }
}
