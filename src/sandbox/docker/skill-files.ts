/**
 * Writes a session's skills into its container's /skills tmpfs, as root
 * through tar over exec (container-spec.ts mounts it root-owned, 0755, so the
 * sandbox user can read and import the files but not change them).
 */
import type Docker from "dockerode";
import type { SessionSkill } from "../sandbox.ts";
import { SKILLS_DIR, SKILLS_PYTHON_DIR } from "./container-spec.ts";
import { putFilesByTar } from "./tar-transfer.ts";

const rootUser = "0:0";

// The `skills` package: its submodules are found in every skill's scripts/, so `skills.<stem>` imports scripts/<stem>.py.
const packageInit = `"""Approved skills: scripts/<stem>.py of /skills/<name>/ imports as skills.<stem>."""
import os as _os

__path__ = sorted(
    _os.path.join("${SKILLS_DIR}", _name, "scripts")
    for _name in _os.listdir("${SKILLS_DIR}")
    if not _name.startswith(".") and _os.path.isdir(_os.path.join("${SKILLS_DIR}", _name, "scripts"))
)
`;

export async function writeSkills(container: Docker.Container, modem: Docker["modem"], skills: readonly SessionSkill[]): Promise<void> {
  if (skills.length === 0) return;
  const files = [
    { name: `${SKILLS_PYTHON_DIR.slice(SKILLS_DIR.length + 1)}/skills/__init__.py`, data: Buffer.from(packageInit) },
    ...skills.flatMap((skill) => skill.files.map((file) => ({ name: `${skill.name}/${file.path}`, data: file.data }))),
  ];
  await putFilesByTar({ container, modem, user: rootUser, workdir: SKILLS_DIR }, files);
}
