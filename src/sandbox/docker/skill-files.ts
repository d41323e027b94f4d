/**
 * Writes a session's skills into its container's /skills tmpfs, as root
 * through tar over exec (container-spec.ts mounts it root-owned, 0755, so the
 * sandbox user can read and import the files but not change them), with the
 * `skills` package they import through and the packages they declare
 * (skills-package.ts).
 */
import type Docker from "dockerode";
import type { SessionSkill } from "../sandbox.ts";
import { SKILLS_DIR, SKILLS_PYTHON_DIR } from "./container-spec.ts";
import { requirementsFileName, skillsPackageInit } from "./skills-package.ts";
import { putFilesByTar, runInTarget } from "./tar-transfer.ts";

const rootUser = "0:0";

/** Replaces the skills a running session holds: the old folders go, the new ones are written. */
export async function replaceSkills(container: Docker.Container, modem: Docker["modem"], skills: readonly SessionSkill[]): Promise<void> {
  const python = SKILLS_PYTHON_DIR.slice(SKILLS_DIR.length + 1);
  await runInTarget({ container, modem, user: rootUser, workdir: SKILLS_DIR }, ["find", SKILLS_DIR, "-mindepth", "1", "-maxdepth", "1", "!", "-name", python, "-exec", "rm", "-rf", "--", "{}", "+"]);
  await writeSkills(container, modem, skills);
}

export async function writeSkills(container: Docker.Container, modem: Docker["modem"], skills: readonly SessionSkill[]): Promise<void> {
  if (skills.length === 0) return;
  const packageDir = `${SKILLS_PYTHON_DIR.slice(SKILLS_DIR.length + 1)}/skills`;
  const requirements = Object.fromEntries(skills.filter((skill) => skill.requirements.length > 0).map((skill) => [skill.name, skill.requirements]));
  const files = [
    { name: `${packageDir}/__init__.py`, data: Buffer.from(skillsPackageInit) },
    { name: `${packageDir}/${requirementsFileName}`, data: Buffer.from(JSON.stringify(requirements)) },
    ...skills.flatMap((skill) => skill.files.map((file) => ({ name: `${skill.name}/${file.path}`, data: file.data }))),
  ];
  await putFilesByTar({ container, modem, user: rootUser, workdir: SKILLS_DIR }, files);
}
