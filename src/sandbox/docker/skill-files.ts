/**
 * Writes a session's skills into its container's /skills tmpfs, as root
 * through tar over exec (container-spec.ts mounts it root-owned, 0755, so the
 * sandbox user can read and import the files but not change them).
 */
import type Docker from "dockerode";
import type { SessionSkill } from "../sandbox.ts";
import { SKILLS_DIR, SKILLS_PYTHON_DIR } from "./container-spec.ts";
import { putFilesByTar, runInTarget } from "./tar-transfer.ts";

const rootUser = "0:0";

// The `skills` package: its submodules are found in every skill's scripts/, so `skills.<stem>` imports
// scripts/<stem>.py. The path is listed afresh at each import, so skills given to a running session are found.
const packageInit = `"""Approved skills: scripts/<stem>.py of /skills/<name>/ imports as skills.<stem>."""
import os as _os


def _scripts():
    return sorted(
        _os.path.join("${SKILLS_DIR}", _name, "scripts")
        for _name in _os.listdir("${SKILLS_DIR}")
        if not _name.startswith(".") and _os.path.isdir(_os.path.join("${SKILLS_DIR}", _name, "scripts"))
    )


class _ScriptsPath(list):
    def __iter__(self):
        return iter(_scripts())

    def __len__(self):
        return len(_scripts())

    def __repr__(self):
        return repr(_scripts())


__path__ = _ScriptsPath()
`;

/** Replaces the skills a running session holds: the old folders go, the new ones are written. */
export async function replaceSkills(container: Docker.Container, modem: Docker["modem"], skills: readonly SessionSkill[]): Promise<void> {
  const python = SKILLS_PYTHON_DIR.slice(SKILLS_DIR.length + 1);
  await runInTarget({ container, modem, user: rootUser, workdir: SKILLS_DIR }, ["find", SKILLS_DIR, "-mindepth", "1", "-maxdepth", "1", "!", "-name", python, "-exec", "rm", "-rf", "--", "{}", "+"]);
  await writeSkills(container, modem, skills);
}

export async function writeSkills(container: Docker.Container, modem: Docker["modem"], skills: readonly SessionSkill[]): Promise<void> {
  if (skills.length === 0) return;
  const files = [
    { name: `${SKILLS_PYTHON_DIR.slice(SKILLS_DIR.length + 1)}/skills/__init__.py`, data: Buffer.from(packageInit) },
    ...skills.flatMap((skill) => skill.files.map((file) => ({ name: `${skill.name}/${file.path}`, data: file.data }))),
  ];
  await putFilesByTar({ container, modem, user: rootUser, workdir: SKILLS_DIR }, files);
}
