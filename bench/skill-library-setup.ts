/**
 * Two real SQLite stores for the skill figures: one holding the twenty bench
 * skills, imported as approved through the real `SkillLibrary` (validation,
 * the compile check in the sandbox image, stem clashes) as `threadbook skills
 * import` does, and one holding none. Both live in a temporary folder removed
 * by `close`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PythonCompileCheck } from "../src/skills/python-compile-check.ts";
import { SkillLibrary } from "../src/skills/skill-library.ts";
import { globalScope } from "../src/skills/skill.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { BENCH_SKILLS, writeBenchSkills } from "./skill-fixtures.ts";

export interface BenchSkillStores {
  withSkills: SqliteStore;
  withoutSkills: SqliteStore;
  close(): Promise<void>;
}

export async function openBenchSkillStores(compileCheck: PythonCompileCheck): Promise<BenchSkillStores> {
  const root = await mkdtemp(join(tmpdir(), "threadbook-bench-skills-"));
  const opened: SqliteStore[] = [];
  const close = async () => {
    for (const store of opened) await store.close();
    await rm(root, { recursive: true, force: true });
  };
  try {
    const withSkills = openSqliteStore(join(root, "with-skills"), { recoverInterruptedTurns: false });
    opened.push(withSkills);
    const withoutSkills = openSqliteStore(join(root, "without-skills"), { recoverInterruptedTurns: false });
    opened.push(withoutSkills);
    const folders = join(root, "skill-folders");
    await writeBenchSkills(folders);
    const imported = await new SkillLibrary(withSkills.skills, compileCheck).importPath(folders, globalScope, "cli:bench");
    if (imported.length !== BENCH_SKILLS.length) throw new Error(`imported ${imported.length} skills, expected ${BENCH_SKILLS.length}`);
    return { withSkills, withoutSkills, close };
  } catch (error) {
    await close();
    throw error;
  }
}
