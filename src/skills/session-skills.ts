/**
 * Which skills a conversation sees, and their files for its session: the
 * approved ones of global and of the workspace the turn came from.
 */
import type { SessionSkill } from "../sandbox/sandbox.ts";
import type { SkillRecord, SkillStore } from "../store/skill-store.ts";
import { activeSkills, visibleScopes } from "./skill-library.ts";
import { globalScope } from "./skill.ts";

/** The scope of a turn's user: `<platform>:<workspace>` (e.g. `slack:<team>`, `discord:<guild>`), else global (the CLI has no workspace). */
export function skillScope(user: { platform: string; workspace: string | null }): string {
  if (user.workspace !== null && user.workspace !== "") return `${user.platform}:${user.workspace}`;
  return globalScope;
}

/** The newest approved version of each skill the scope sees. */
export async function visibleSkills(store: SkillStore, scope: string): Promise<SkillRecord[]> {
  return activeSkills(await store.listSkills({ scopes: visibleScopes(scope), status: "approved" }));
}

export async function sessionSkills(store: SkillStore, skills: readonly SkillRecord[]): Promise<SessionSkill[]> {
  return Promise.all(skills.map(async (skill) => ({ name: skill.name, files: await store.skillFiles(skill.id) })));
}
