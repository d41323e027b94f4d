/**
 * A skill in the open Agent Skills format (agentskills.io): a folder named
 * after the skill, holding `SKILL.md` (YAML front matter, then markdown
 * instructions), `scripts/` with Python files, and optionally `references/`
 * and `assets/`. Here a skill travels as its files, paths relative to the folder.
 */

export interface SkillFile {
  /** Relative to the skill's folder, `/` separators, e.g. "scripts/fiscal_calendar.py". */
  path: string;
  data: Buffer;
}

/** What SKILL.md's front matter says. */
export interface SkillManifest {
  name: string;
  description: string;
  license: string | null;
  compatibility: string | null;
  /** Free-form key/value pairs the format allows. */
  metadata: Record<string, unknown> | null;
  /**
   * `metadata.requirements`: packages a session installs (through its door
   * out, as `%pip install` does) when it first imports the skill; [] when none.
   */
  requirements: string[];
}

/** A skill whose files passed every rule of skill-rules.ts. */
export interface ValidSkill {
  manifest: SkillManifest;
  /** SKILL.md first, then the others sorted by path. */
  files: SkillFile[];
  /** Stems of `scripts/<stem>.py`: importable as `skills.<stem>`. */
  stems: string[];
}

/** `global`, or one workspace: `slack:<team>`, `discord:<guild>`. */
export type SkillScope = string;

export const globalScope = "global";

/** A stored version of a skill and its files, as the library and its review hand them to adapters. */
export type { SkillRecord, StoredSkillFile } from "../store/skill-store.ts";
