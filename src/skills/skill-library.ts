/**
 * The skill library's operations, over the store: import (approved at once),
 * approve, reject, remove, and what a scope sees. Every check runs before
 * anything is stored, so a refusal leaves no partial state.
 */
import { lstat, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SkillError } from "../errors.ts";
import type { SkillRecord, SkillStore, StoredSkillFile } from "../store/skill-store.ts";
import type { PythonCompileCheck } from "./python-compile-check.ts";
import { findSkillFolders, readSkillFolder } from "./read-skill-folder.ts";
import { checkName, checkRelativePath, checkScope, refuse } from "./skill-rules.ts";
import { globalScope, type ValidSkill } from "./skill.ts";
import { validateSkill } from "./validate-skill.ts";

/** The scopes whose skills a conversation in `scope` sees together: global and its workspace. */
export function visibleScopes(scope: string): string[] {
  return scope === globalScope ? [globalScope] : [globalScope, scope];
}

/** The newest approved version of each name, per scope. */
export function activeSkills(records: readonly SkillRecord[]): SkillRecord[] {
  const newest = new Map<string, SkillRecord>();
  for (const record of records) {
    if (record.status !== "approved") continue;
    const key = `${record.scope}\u0000${record.name}`;
    const found = newest.get(key);
    if (found === undefined || found.version < record.version) newest.set(key, record);
  }
  return [...newest.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.scope < b.scope ? -1 : 1));
}

export class SkillLibrary {
  readonly #store: SkillStore;
  readonly #compileCheck: PythonCompileCheck;

  constructor(store: SkillStore, compileCheck: PythonCompileCheck) {
    this.#store = store;
    this.#compileCheck = compileCheck;
  }

  /** Imports a skill folder, or every skill folder inside a folder, as approved versions: all of them or none. */
  async importPath(path: string, scope: string, by: string): Promise<SkillRecord[]> {
    checkScope(scope);
    const skills: ValidSkill[] = [];
    for (const folder of await findSkillFolders(path)) {
      const { folderName, files } = await readSkillFolder(folder);
      const skill = validateSkill(files, folderName);
      await this.#checkCompiles(skill);
      skills.push(skill);
    }
    const names = new Set<string>();
    for (const skill of skills) {
      if (names.has(skill.manifest.name)) refuse("name", `Two skills are named ${JSON.stringify(skill.manifest.name)}.`);
      names.add(skill.manifest.name);
    }
    for (const [index, skill] of skills.entries()) {
      const earlierInBatch = skills.slice(0, index).map((other) => ({ name: other.manifest.name, stems: other.stems, scope }));
      await this.#checkStems(scope, skill.manifest.name, skill.stems, earlierInBatch);
    }
    const stored: SkillRecord[] = [];
    for (const skill of skills) {
      stored.push(
        await this.#store.addSkillVersion({
          scope,
          name: skill.manifest.name,
          description: skill.manifest.description,
          stems: skill.stems,
          files: skill.files,
          status: "approved",
          proposedBy: by,
          conversationKey: null,
        }),
      );
    }
    return stored;
  }

  /** Every version of the name, in the given scope or the only scope holding it. */
  async versions(name: string, scope: string | undefined): Promise<SkillRecord[]> {
    checkName(name);
    const found = await this.#store.listSkills({ name, ...(scope === undefined ? {} : { scopes: [checkScope(scope)] }) });
    if (found.length === 0) throw new SkillError("skill_not_found", `No skill named ${JSON.stringify(name)}${scope === undefined ? "" : ` in ${scope}`}.`);
    const scopes = [...new Set(found.map((record) => record.scope))];
    if (scopes.length > 1) {
      throw new SkillError("skill_not_found", `The skill ${JSON.stringify(name)} is in several scopes (${scopes.join(", ")}): say which with --scope.`);
    }
    return found;
  }

  files(record: SkillRecord): Promise<StoredSkillFile[]> {
    return this.#store.skillFiles(record.id);
  }

  async approve(name: string, scope: string | undefined, by: string): Promise<SkillRecord> {
    const proposal = await this.#latestProposal(name, scope);
    await this.#checkStems(proposal.scope, proposal.name, proposal.stems, []);
    return this.#store.decideSkill(proposal.id, "approved", by);
  }

  async reject(name: string, scope: string | undefined, by: string): Promise<SkillRecord> {
    const proposal = await this.#latestProposal(name, scope);
    return this.#store.decideSkill(proposal.id, "rejected", by);
  }

  async remove(name: string, scope: string | undefined): Promise<number> {
    const versions = await this.versions(name, scope);
    const [first] = versions;
    return first === undefined ? 0 : this.#store.removeSkill(first.scope, name);
  }

  /** Writes the newest version (approved first, else the newest of any status) as `<directory>/<name>/`. */
  async exportTo(name: string, scope: string | undefined, directory: string): Promise<string> {
    const versions = await this.versions(name, scope);
    const chosen = activeSkills(versions)[0] ?? (versions.at(-1) as SkillRecord);
    const folder = join(directory, name);
    if ((await lstat(folder).catch(() => null)) !== null) refuse("export", `${folder} exists already; export writes a new folder.`);
    for (const file of await this.files(chosen)) {
      const target = join(folder, checkRelativePath(file.path));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, file.data, { flag: "wx" });
    }
    return folder;
  }

  async #latestProposal(name: string, scope: string | undefined): Promise<SkillRecord> {
    const proposals = (await this.versions(name, scope)).filter((record) => record.status === "proposed");
    const latest = proposals.at(-1);
    if (latest === undefined) throw new SkillError("skill_not_found", `The skill ${JSON.stringify(name)} has no version waiting for approval.`);
    return latest;
  }

  async #checkCompiles(skill: ValidSkill): Promise<void> {
    const problem = await this.#compileCheck(skill.files);
    if (problem !== null) {
      refuse("python", `${problem.path} does not compile${problem.line === null ? "" : ` (line ${problem.line})`}: ${problem.message}.`);
    }
  }

  /**
   * Two skills seen together (one scope, or a workspace and global) may not
   * define the same stem: `skills.<stem>` would be ambiguous. A name's own
   * earlier versions do not count: the new one replaces them.
   */
  async #checkStems(scope: string, name: string, stems: readonly string[], alsoPending: readonly { name: string; stems: string[]; scope: string }[]): Promise<void> {
    const others = scope === globalScope ? await this.#store.listSkills({ status: "approved" }) : await this.#store.listSkills({ scopes: visibleScopes(scope), status: "approved" });
    const approved = activeSkills(others).filter((other) => !(other.name === name && other.scope === scope));
    for (const other of [...approved, ...alsoPending]) {
      const shared = stems.find((stem) => other.stems.includes(stem));
      if (shared !== undefined) {
        refuse("stem", `The module skills.${shared} is already defined by the skill ${JSON.stringify(other.name)} (${other.scope}); rename scripts/${shared}.py.`);
      }
    }
  }
}
