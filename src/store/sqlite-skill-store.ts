/** The SkillStore on the SQLite database of sqlite-store.ts (tables of migration 5). */
import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "../errors.ts";
import { integer, text } from "./sqlite-rows.ts";
import { skillColumns as columns, toSkill } from "./skill-records.ts";
import type { Transaction } from "./sqlite-transaction.ts";
import type { NewSkillVersion, SkillFilter, SkillRecord, SkillStore, StoredSkillFile } from "./skill-store.ts";

export class SqliteSkillStore implements SkillStore {
  readonly #database: DatabaseSync;
  readonly #transaction: Transaction;
  readonly #now: () => number;
  readonly #guard: <T>(action: string, work: () => T) => Promise<T>;

  constructor(database: DatabaseSync, transaction: Transaction, now: () => number, guard: <T>(action: string, work: () => T) => Promise<T>) {
    this.#database = database;
    this.#transaction = transaction;
    this.#now = now;
    this.#guard = guard;
  }

  #get(id: number): SkillRecord | null {
    const row = this.#database.prepare(`SELECT ${columns} FROM skills WHERE id = ?`).get(id);
    return row === undefined ? null : toSkill(row);
  }

  addSkillVersion(input: NewSkillVersion): Promise<SkillRecord> {
    return this.#guard("store a skill", () =>
      this.#transaction(() => {
        const now = this.#now();
        const next = this.#database.prepare("SELECT coalesce(max(version), 0) + 1 AS version FROM skills WHERE scope = ? AND name = ?").get(input.scope, input.name);
        const version = integer(next ?? { version: 1 }, "version");
        const approved = input.status === "approved";
        const result = this.#database
          .prepare(
            `INSERT INTO skills (scope, name, version, status, description, stems_json, proposed_by, proposed_at, conversation_key, decided_by, decided_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(input.scope, input.name, version, input.status, input.description, JSON.stringify(input.stems), input.proposedBy, now, input.conversationKey, approved ? input.proposedBy : null, approved ? now : null);
        const id = Number(result.lastInsertRowid);
        const insertFile = this.#database.prepare("INSERT INTO skill_files (skill_id, path, position, data) VALUES (?, ?, ?, ?)");
        input.files.forEach((file, position) => insertFile.run(id, file.path, position, file.data));
        return this.#get(id) as SkillRecord;
      }),
    );
  }

  listSkills(filter: SkillFilter = {}): Promise<SkillRecord[]> {
    return this.#guard("read the skills", () => {
      const conditions: string[] = [];
      const values: string[] = [];
      if (filter.scopes !== undefined) {
        if (filter.scopes.length === 0) return [];
        conditions.push(`scope IN (${filter.scopes.map(() => "?").join(", ")})`);
        values.push(...filter.scopes);
      }
      if (filter.name !== undefined) {
        conditions.push("name = ?");
        values.push(filter.name);
      }
      if (filter.status !== undefined) {
        conditions.push("status = ?");
        values.push(filter.status);
      }
      const where = conditions.length === 0 ? "" : `WHERE ${conditions.join(" AND ")}`;
      return this.#database.prepare(`SELECT ${columns} FROM skills ${where} ORDER BY scope, name, version`).all(...values).map(toSkill);
    });
  }

  skill(id: number): Promise<SkillRecord | null> {
    return this.#guard("read a skill", () => this.#get(id));
  }

  skillFiles(id: number): Promise<StoredSkillFile[]> {
    return this.#guard("read a skill's files", () =>
      this.#database
        .prepare("SELECT path, data FROM skill_files WHERE skill_id = ? ORDER BY position")
        .all(id)
        .map((row) => ({ path: text(row, "path"), data: Buffer.from(row.data as Uint8Array) })),
    );
  }

  decideSkill(id: number, status: "approved" | "rejected", by: string): Promise<SkillRecord> {
    return this.#guard("decide on a skill", () => {
      const result = this.#database
        .prepare("UPDATE skills SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'proposed'")
        .run(status, by, this.#now(), id);
      if (Number(result.changes) === 0) throw new StoreError(`No proposed skill version with id ${id} to decide on.`, { details: { id } });
      return this.#get(id) as SkillRecord;
    });
  }

  removeSkill(scope: string, name: string): Promise<number> {
    return this.#guard("remove a skill", () =>
      this.#transaction(() => {
        this.#database.prepare("DELETE FROM skill_files WHERE skill_id IN (SELECT id FROM skills WHERE scope = ? AND name = ?)").run(scope, name);
        return Number(this.#database.prepare("DELETE FROM skills WHERE scope = ? AND name = ?").run(scope, name).changes);
      }),
    );
  }
}
