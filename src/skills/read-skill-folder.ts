/**
 * Reads a skill folder from disk without following anything out of it: a
 * symlink is refused, and the walk stops once the size or file-count limit
 * is passed, before more is read.
 */
import { lstat, readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { checkCounts, manifestFileName, refuse } from "./skill-rules.ts";
import type { SkillFile } from "./skill.ts";

export async function readSkillFolder(folder: string): Promise<{ folderName: string; files: SkillFile[] }> {
  const files: SkillFile[] = [];
  let totalBytes = 0;
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(folder, relative), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      const status = await lstat(join(folder, path));
      if (status.isSymbolicLink()) refuse("symlink", `${JSON.stringify(path)} is a symlink; a skill holds plain files only.`);
      if (status.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!status.isFile()) refuse("path", `${JSON.stringify(path)} is not a plain file.`);
      totalBytes += status.size;
      checkCounts(files.length + 1, totalBytes);
      files.push({ path, data: await readFile(join(folder, path)) });
    }
  };
  const top = await lstat(folder).catch(() => null);
  if (top === null || !top.isDirectory() || top.isSymbolicLink()) refuse("folder", `${folder} is not a folder.`);
  await walk("");
  return { folderName: basename(folder), files };
}

/** A folder that is a skill (has SKILL.md), or the skill folders directly inside it (such as `.agents/skills/`). */
export async function findSkillFolders(path: string): Promise<string[]> {
  const top = await lstat(path).catch(() => null);
  if (top === null || !top.isDirectory()) refuse("folder", `${path} is not a folder.`);
  if ((await lstat(join(path, manifestFileName)).catch(() => null)) !== null) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const link = entries.find((entry) => entry.isSymbolicLink());
  if (link !== undefined) refuse("symlink", `${JSON.stringify(link.name)} is a symlink; a skill holds plain files only.`);
  const folders = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(path, entry.name))
    .sort();
  if (folders.length === 0) refuse("folder", `${path} holds neither ${manifestFileName} nor skill folders.`);
  return folders;
}

