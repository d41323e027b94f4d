/** The SkillStore on the Postgres database of postgres-store.ts (tables of migration 5): skill files live in the database. */
import { StoreError } from "../errors.ts";
import type { PostgresDatabase, PostgresRow, Query } from "./postgres-database.ts";
import { skillColumns, toSkill } from "./skill-records.ts";
import { integer, text, type Row } from "./sqlite-rows.ts";
import type { NewSkillVersion, SkillFilter, SkillRecord, SkillStore, StoredSkillFile } from "./skill-store.ts";

function skillOf(rows: PostgresRow[]): SkillRecord | null {
  const [row] = rows;
  return row === undefined ? null : toSkill(row as Row);
}

export class PostgresSkillStore implements SkillStore {
  readonly #database: PostgresDatabase;
  readonly #now: () => number;

  constructor(database: PostgresDatabase, now: () => number) {
    this.#database = database;
    this.#now = now;
  }

  addSkillVersion(input: NewSkillVersion): Promise<SkillRecord> {
    return this.#database.transaction("store a skill", async (query: Query) => {
      const now = this.#now();
      // Two replicas storing the same name at once take turns, so each gets its own next version.
      await query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`skill\n${input.scope}\n${input.name}`]);
      const [next] = (await query("SELECT coalesce(max(version), 0) + 1 AS version FROM skills WHERE scope = $1 AND name = $2", [input.scope, input.name])).rows;
      const version = integer((next ?? { version: 1 }) as Row, "version");
      const approved = input.status === "approved";
      const inserted = await query(
        `INSERT INTO skills (scope, name, version, status, description, stems_json, proposed_by, proposed_at, conversation_key, decided_by, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${skillColumns}`,
        [input.scope, input.name, version, input.status, input.description, JSON.stringify(input.stems), input.proposedBy, now, input.conversationKey, approved ? input.proposedBy : null, approved ? now : null],
      );
      const skill = skillOf(inserted.rows) as SkillRecord;
      for (const [position, file] of input.files.entries()) {
        await query("INSERT INTO skill_files (skill_id, path, position, data) VALUES ($1, $2, $3, $4)", [skill.id, file.path, position, file.data]);
      }
      return skill;
    });
  }

  async listSkills(filter: SkillFilter = {}): Promise<SkillRecord[]> {
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (filter.scopes !== undefined) {
      if (filter.scopes.length === 0) return [];
      values.push([...filter.scopes]);
      conditions.push(`scope = ANY($${values.length}::text[])`);
    }
    if (filter.name !== undefined) {
      values.push(filter.name);
      conditions.push(`name = $${values.length}`);
    }
    if (filter.status !== undefined) {
      values.push(filter.status);
      conditions.push(`status = $${values.length}`);
    }
    const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
    const result = await this.#database.query("read the skills", `SELECT ${skillColumns} FROM skills ${where} ORDER BY scope COLLATE "C", name COLLATE "C", version`, values);
    return result.rows.map((row) => toSkill(row as Row));
  }

  async skill(id: number): Promise<SkillRecord | null> {
    return skillOf((await this.#database.query("read a skill", `SELECT ${skillColumns} FROM skills WHERE id = $1`, [id])).rows);
  }

  async skillFiles(id: number): Promise<StoredSkillFile[]> {
    const result = await this.#database.query("read a skill's files", "SELECT path, data FROM skill_files WHERE skill_id = $1 ORDER BY position", [id]);
    return result.rows.map((row) => ({ path: text(row as Row, "path"), data: Buffer.from(row["data"] as Uint8Array) }));
  }

  async decideSkill(id: number, status: "approved" | "rejected", by: string): Promise<SkillRecord> {
    const result = await this.#database.query(
      "decide on a skill",
      `UPDATE skills SET status = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND status = 'proposed' RETURNING ${skillColumns}`,
      [status, by, this.#now(), id],
    );
    const skill = skillOf(result.rows);
    if (skill === null) throw new StoreError(`No proposed skill version with id ${id} to decide on.`, { details: { id } });
    return skill;
  }

  removeSkill(scope: string, name: string): Promise<number> {
    return this.#database.transaction("remove a skill", async (query) => {
      await query("DELETE FROM skill_files WHERE skill_id IN (SELECT id FROM skills WHERE scope = $1 AND name = $2)", [scope, name]);
      return (await query("DELETE FROM skills WHERE scope = $1 AND name = $2", [scope, name])).rowCount;
    });
  }
}
