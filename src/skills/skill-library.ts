/**
 * The skill library's operations, over the store: import (approved at once),
 * propose (from a conversation), approve, reject, remove, and what a scope
 * sees. Every check runs before anything is stored, so a refusal leaves no
 * partial state. Changes run one at a time, so two approvals cannot each
 * pass the clash check against the state before the other.
 */
import { lstat, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ProposalContext, SkillProposal, SkillProposer } from "./skill-proposer.ts";
import { SkillError, StoreError } from "../errors.ts";
import type { SkillRecord, SkillStore, StoredSkillFile } from "../store/skill-store.ts";
import { manifestText } from "./front-matter.ts";
import type { PythonCompileCheck } from "./python-compile-check.ts";
import { findSkillFolders, readSkillFolder } from "./read-skill-folder.ts";
import { checkName, checkRelativePath, checkScope, manifestFileName, refuse } from "./skill-rules.ts";
import { globalScope, type SkillFile, type ValidSkill } from "./skill.ts";
import { validateSkill } from "./validate-skill.ts";

/**
 * The scopes whose skills a conversation in `scope` sees together: global
 * and its workspace; a person's own scope (their direct messages) sees
 * their workspace's too.
 */
export function visibleScopes(scope: string): string[] {
  if (scope === globalScope) return [globalScope];
  const workspace = workspaceOfPersonalScope(scope);
  return workspace === null ? [globalScope, scope] : [globalScope, workspace, scope];
}

/** Whether some conversation sees skills of both scopes. */
export function seenTogether(scope: string, other: string): boolean {
  return visibleScopes(scope).includes(other) || visibleScopes(other).includes(scope);
}

/** `slack:T1` for `slack:T1:user:U1`; null for a workspace's scope, global, or a person's scope outside any workspace (`discord:user:1`). */
function workspaceOfPersonalScope(scope: string): string | null {
  const at = scope.indexOf(":user:");
  if (at < 0) return null;
  const workspace = scope.slice(0, at);
  return workspace.includes(":") ? workspace : null;
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

export class SkillLibrary implements SkillProposer {
  readonly #store: SkillStore;
  readonly #compileCheck: PythonCompileCheck;
  /** The change running now; the next waits for it. */
  #changing: Promise<unknown> = Promise.resolve();

  constructor(store: SkillStore, compileCheck: PythonCompileCheck) {
    this.#store = store;
    this.#compileCheck = compileCheck;
  }

  /** Imports a skill folder, or every skill folder inside a folder, as approved versions: all of them or none. */
  importPath(path: string, scope: string, by: string): Promise<SkillRecord[]> {
    return this.#oneAtATime(() => this.#importPath(path, scope, by));
  }

  /**
   * Stores a proposal from a conversation as the next version of its name in
   * the conversation's scope: `proposed`, or `approved` when the context says
   * to approve at once. A proposal that would clash with an approved skill is
   * refused now, so the model can rename it while it still can.
   */
  propose(proposal: SkillProposal, context: ProposalContext): Promise<SkillRecord> {
    return this.#oneAtATime(async () => {
      checkScope(context.scope);
      const name = checkName(proposal.name);
      for (const file of proposal.files) {
        if (checkRelativePath(file.path) === manifestFileName) {
          refuse("manifest", `${manifestFileName} is built from the name, description and instructions; leave it out of the files.`);
        }
      }
      const files: SkillFile[] = [
        { path: manifestFileName, data: Buffer.from(manifestText({ name, description: proposal.description, requirements: proposal.requirements ?? [] }, proposal.instructions)) },
        ...proposal.files.map((file) => ({ path: file.path, data: Buffer.from(file.content) })),
      ];
      const skill = validateSkill(files, name);
      await this.#checkCompiles(skill);
      await this.#checkClashes(context.scope, name, skill.stems, []);
      return this.#store.addSkillVersion({
        scope: context.scope,
        name,
        description: skill.manifest.description,
        stems: skill.stems,
        files: skill.files,
        status: context.autoApprove ? "approved" : "proposed",
        proposedBy: context.by,
        conversationKey: context.conversationKey,
      });
    });
  }

  /** One version by id, with its files; SkillError when there is none. */
  async version(id: number): Promise<{ record: SkillRecord; files: StoredSkillFile[] }> {
    const record = await this.#store.skill(id);
    if (record === null) throw new SkillError("skill_not_found", "That skill version is no longer in the library (it was removed).");
    return { record, files: await this.#store.skillFiles(id) };
  }

  /**
   * Approves or rejects one proposed version by id (a button's choice). A
   * version decided already, by now or by someone else first, is refused
   * saying how it was decided.
   */
  decide(id: number, decision: "approved" | "rejected", by: string): Promise<SkillRecord> {
    return this.#oneAtATime(async () => {
      const record = await this.#store.skill(id);
      if (record === null) throw new SkillError("skill_not_found", "That skill version is no longer in the library (it was removed).");
      if (record.status !== "proposed") throw decidedAlready(record);
      if (decision === "approved") await this.#checkClashes(record.scope, record.name, record.stems, []);
      try {
        return await this.#store.decideSkill(id, decision, by);
      } catch (error) {
        const now = error instanceof StoreError ? await this.#store.skill(id) : null;
        if (now !== null && now.status !== "proposed") throw decidedAlready(now);
        throw error;
      }
    });
  }

  async #importPath(path: string, scope: string, by: string): Promise<SkillRecord[]> {
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
      await this.#checkClashes(scope, skill.manifest.name, skill.stems, earlierInBatch);
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

  /** Approves the newest version of the name waiting for approval. */
  async approve(name: string, scope: string | undefined, by: string): Promise<SkillRecord> {
    return this.decide((await this.#latestProposal(name, scope)).id, "approved", by);
  }

  async reject(name: string, scope: string | undefined, by: string): Promise<SkillRecord> {
    return this.decide((await this.#latestProposal(name, scope)).id, "rejected", by);
  }

  remove(name: string, scope: string | undefined): Promise<number> {
    return this.#oneAtATime(async () => {
      const versions = await this.versions(name, scope);
      const [first] = versions;
      return first === undefined ? 0 : this.#store.removeSkill(first.scope, name);
    });
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

  #oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const next = this.#changing.then(change, change);
    this.#changing = next.catch(() => undefined);
    return next;
  }

  /**
   * Two skills seen together (one scope, a workspace and global, a person's own and their workspace's) may not
   * share a name (both would be /skills/<name>/) nor define the same stem
   * (`skills.<stem>` would be ambiguous). A name's own earlier versions in its
   * scope do not count: the new one replaces them.
   */
  async #checkClashes(scope: string, name: string, stems: readonly string[], alsoPending: readonly { name: string; stems: string[]; scope: string }[]): Promise<void> {
    // A person's own scope sees its workspace's skills, so a workspace's skill is checked against its people's too.
    const others = (await this.#store.listSkills({ status: "approved" })).filter((other) => seenTogether(scope, other.scope));
    const approved = activeSkills(others).filter((other) => !(other.name === name && other.scope === scope));
    const sameName = approved.find((other) => other.name === name);
    if (sameName !== undefined) {
      refuse("name", `The name ${JSON.stringify(name)} is taken by an approved skill in ${sameName.scope}, which the same conversations see; choose another name.`);
    }
    for (const other of [...approved, ...alsoPending]) {
      const shared = stems.find((stem) => other.stems.includes(stem));
      if (shared !== undefined) {
        refuse("stem", `The module skills.${shared} is already defined by the skill ${JSON.stringify(other.name)} (${other.scope}); rename scripts/${shared}.py.`);
      }
    }
  }
}

function decidedAlready(record: SkillRecord): SkillError {
  const how = record.status === "approved" ? "approved" : "rejected";
  const who = record.decidedBy === null ? "" : ` by ${record.decidedBy}`;
  return new SkillError("skill_decided", `Version ${record.version} of the skill \`${record.name}\` was already ${how}${who}.`, { details: { id: record.id } });
}
