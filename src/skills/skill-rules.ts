/**
 * The rules a skill must keep, each refused with a message naming the rule.
 * Limits are the format's (name, description) and threadbook's (size, count).
 */
import { SkillError } from "../errors.ts";

export const maxSkillBytes = 1024 * 1024;
export const maxSkillFiles = 100;
export const maxNameLength = 64;
export const maxDescriptionLength = 1024;
export const manifestFileName = "SKILL.md";
/** Packages a skill may declare in `metadata.requirements`, each installed in a session with a door out. */
export const maxRequirements = 20;
export const maxRequirementLength = 100;

const namePattern = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** A stem must be a Python identifier to be importable as `skills.<stem>`. */
const stemPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * A requirement as pip reads it, kept to a strict subset of PEP 508: a
 * project name, optional extras, optional version specifiers joined by
 * commas; no spaces, URLs, paths, environment markers or options (nothing
 * that pip could read as anything but a package from the index).
 */
const requirementPattern =
  /^(?<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?:\[[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:,[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)*\])?(?:(?:===|==|!=|~=|<=|>=|<|>)[A-Za-z0-9.*+!]+(?:,(?:===|==|!=|~=|<=|>=|<|>)[A-Za-z0-9.*+!]+)*)?$/;
const scopePattern = /^(global|slack:[A-Za-z0-9]{1,40}(:user:[A-Za-z0-9]{1,40})?|discord:(user:)?\d{1,20})$/;

export function refuse(rule: string, message: string, details: Record<string, unknown> = {}): never {
  throw new SkillError("skill_invalid", `${message} (rule: ${rule})`, { details: { rule, ...details } });
}

export function checkName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0 || name.length > maxNameLength || !namePattern.test(name)) {
    refuse(
      "name",
      `The skill name ${JSON.stringify(name)} is not valid: 1 to ${maxNameLength} lowercase letters, digits and single hyphens, no hyphen at either end.`,
    );
  }
  return name;
}

export function checkDescription(description: unknown): string {
  if (typeof description !== "string" || description.trim().length === 0 || description.length > maxDescriptionLength) {
    refuse("description", `The skill's description must be 1 to ${maxDescriptionLength} characters of text.`);
  }
  return description;
}

export function checkScope(scope: string): string {
  if (!scopePattern.test(scope)) refuse("scope", `The scope ${JSON.stringify(scope)} is not one of global, slack:<team>, discord:<guild>, or a person's own: slack:<team>:user:<user>, discord:user:<user>.`);
  return scope;
}

/** A relative path with `/` separators that stays inside the skill's folder. */
export function checkRelativePath(path: string): string {
  const parts = path.split("/");
  if (path.length === 0 || path.startsWith("/") || path.includes("\\") || path.includes("\0") || parts.some((part) => part === "" || part === "." || part === "..")) {
    refuse("path", `The path ${JSON.stringify(path)} leaves the skill's folder or is not a plain relative path.`);
  }
  return path;
}

export function checkCounts(fileCount: number, totalBytes: number): void {
  if (fileCount > maxSkillFiles) refuse("size", `The skill has more than ${maxSkillFiles} files.`);
  if (totalBytes > maxSkillBytes) refuse("size", `The skill is over 1 MB.`);
}

/** The stem of `scripts/<stem>.py` (directly in scripts/), else null. */
export function scriptStem(path: string): string | null {
  const match = /^scripts\/([^/]+)\.py$/.exec(path);
  if (match === null) return null;
  const stem = match[1] as string;
  if (!stemPattern.test(stem)) refuse("stem", `The script ${JSON.stringify(path)} cannot be imported: its name must be a Python identifier (letters, digits, underscores).`);
  return stem;
}

/**
 * SKILL.md's `metadata.requirements`: absent, or a list of at most
 * ${maxRequirements} requirements such as "tbdemo" or "pandas-stubs>=2.0,<3", each
 * project named once.
 */
export function checkRequirements(requirements: unknown): string[] {
  if (requirements === undefined || requirements === null) return [];
  if (!Array.isArray(requirements)) refuse("requirements", "SKILL.md's metadata.requirements must be a list of package requirements, such as [\"tabulate>=0.9\"].");
  if (requirements.length > maxRequirements) refuse("requirements", `SKILL.md's metadata.requirements lists ${requirements.length} packages; at most ${maxRequirements} are allowed.`);
  const names = new Set<string>();
  for (const requirement of requirements) {
    const match = typeof requirement === "string" && requirement.length <= maxRequirementLength ? requirementPattern.exec(requirement) : null;
    if (match === null) {
      refuse(
        "requirements",
        `The requirement ${JSON.stringify(requirement)} is not valid: a package name (letters, digits, '.', '_', '-'), optionally [extras] and version specifiers such as >=1.2,<2, without spaces, URLs or markers, at most ${maxRequirementLength} characters.`,
      );
    }
    // PEP 503: names equal when lowercased with runs of '.', '_' and '-' as one '-'.
    const name = (match.groups?.name as string).toLowerCase().replace(/[-_.]+/g, "-");
    if (names.has(name)) refuse("requirements", `The package ${JSON.stringify(name)} is listed twice in SKILL.md's metadata.requirements.`);
    names.add(name);
  }
  return requirements as string[];
}
