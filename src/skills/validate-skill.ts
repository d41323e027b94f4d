/**
 * Every rule a skill's files must keep, except that its Python compiles
 * (python-compile-check.ts: that needs Python, which only the sandbox image has).
 */
import { parseManifest } from "./front-matter.ts";
import { checkCounts, checkName, checkRelativePath, manifestFileName, refuse, scriptStem } from "./skill-rules.ts";
import type { SkillFile, ValidSkill } from "./skill.ts";

/** `folderName`: the name of the folder the files came from, which must equal the skill's name. */
export function validateSkill(files: readonly SkillFile[], folderName: string): ValidSkill {
  checkCounts(files.length, files.reduce((total, file) => total + file.data.length, 0));
  const seen = new Set<string>();
  for (const file of files) {
    checkRelativePath(file.path);
    if (seen.has(file.path)) refuse("path", `The path ${JSON.stringify(file.path)} appears twice.`);
    seen.add(file.path);
  }
  const manifestFile = files.find((file) => file.path === manifestFileName);
  if (manifestFile === undefined) refuse("manifest", `The skill has no ${manifestFileName}.`);
  const { manifest } = parseManifest(manifestFile.data.toString("utf8"));
  checkName(folderName);
  if (manifest.name !== folderName) {
    refuse("folder", `SKILL.md names the skill ${JSON.stringify(manifest.name)} but its folder is ${JSON.stringify(folderName)}: they must be equal.`);
  }
  const stems: string[] = [];
  for (const file of files) {
    const stem = scriptStem(file.path);
    if (stem !== null) stems.push(stem);
  }
  const others = files.filter((file) => file !== manifestFile).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { manifest, files: [manifestFile, ...others], stems: stems.sort() };
}
