/**
 * Whether a skill's Python files compile. The check needs Python, which the
 * product promises only inside the sandbox image (the host running the bot may
 * have none, or another version than the sessions run): a Docker
 * implementation compiles them in a short-lived hardened container of that
 * image (src/sandbox/docker/python-compile-container.ts). It only compiles;
 * nothing of the skill runs.
 */
import type { SkillFile } from "./skill.ts";

export interface CompileProblem {
  path: string;
  line: number | null;
  message: string;
}

/** Resolves to the first file that does not compile, or null when all do. */
export type PythonCompileCheck = (files: readonly SkillFile[]) => Promise<CompileProblem | null>;
