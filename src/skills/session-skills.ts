/**
 * Which skills a conversation sees, and their files for its session: the
 * approved ones of global and of the workspace the turn came from, and in a
 * direct message the asker's own. What the model proposes in a direct
 * message is scoped to its author: it never reaches another person's
 * conversation, nor another workspace.
 */
import type { SessionSkill } from "../sandbox/sandbox.ts";
import type { SkillRecord, SkillStore } from "../store/skill-store.ts";
import { requirementsOf } from "./front-matter.ts";
import { activeSkills, visibleScopes } from "./skill-library.ts";
import { globalScope } from "./skill.ts";

/**
 * The scope of a turn: in a direct message (`direct`) the asker's own,
 * `slack:<team>:user:<user>` or `discord:user:<user>`; else its workspace's,
 * `<platform>:<workspace>` (`slack:<team>`, `discord:<guild>`); else global
 * (the CLI has no workspace, and its user is the operator).
 */
export function skillScope(user: { platform: string; id: string; workspace: string | null }, direct = false): string {
  const workspace = user.workspace !== null && user.workspace !== "" ? `${user.platform}:${user.workspace}` : null;
  if (direct && user.platform !== "cli") return `${workspace ?? user.platform}:user:${user.id}`;
  return workspace ?? globalScope;
}

/** The newest approved version of each skill the scope sees. */
export async function visibleSkills(store: SkillStore, scope: string): Promise<SkillRecord[]> {
  return activeSkills(await store.listSkills({ scopes: visibleScopes(scope), status: "approved" }));
}

export async function sessionSkills(store: SkillStore, skills: readonly SkillRecord[]): Promise<SessionSkill[]> {
  return Promise.all(
    skills.map(async (skill) => {
      const files = await store.skillFiles(skill.id);
      return { name: skill.name, files, requirements: requirementsOf(files) };
    }),
  );
}
