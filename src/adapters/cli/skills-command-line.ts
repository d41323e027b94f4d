/** `threadbook skills <action> …`: the skill library's command line, parsed before anything starts. */
import type { OptionSpec } from "./command-line.ts";
import { skillsHelp } from "./help-text.ts";
import { UsageError } from "./usage-error.ts";

export type SkillsAction = "list" | "show" | "import" | "export" | "approve" | "reject" | "remove";

export interface SkillsOptions {
  action: SkillsAction;
  /** The skill's name (show, export, approve, reject, remove) or the folder (import). */
  target: string | undefined;
  /** Where export writes the folder. */
  directory: string | undefined;
  scope: string | undefined;
  json: boolean;
}

type Parse = (argv: string[], options: OptionSpec) => { values: Record<string, unknown>; positionals: string[] };

/** How many positionals after the action each takes. */
const arity: Record<SkillsAction, number> = { list: 0, show: 1, import: 1, export: 2, approve: 1, reject: 1, remove: 1 };
const usage: Record<SkillsAction, string> = {
  list: "threadbook skills list [--json]",
  show: "threadbook skills show NAME [--scope S]",
  import: "threadbook skills import PATH [--scope S]",
  export: "threadbook skills export NAME DIR [--scope S]",
  approve: "threadbook skills approve NAME [--scope S]",
  reject: "threadbook skills reject NAME [--scope S]",
  remove: "threadbook skills remove NAME [--scope S]",
};

export function parseSkills(argv: string[], parse: Parse): { command: "help"; text: string } | { command: "skills"; options: SkillsOptions } {
  const { values, positionals } = parse(argv, {
    scope: { type: "string", short: "s" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) return { command: "help", text: skillsHelp };
  const [action, ...rest] = positionals;
  if (action === undefined || !(action in arity)) {
    throw new UsageError(`'skills' takes one of list, show, import, export, approve, reject, remove (got ${action === undefined ? "none" : JSON.stringify(action)}).`, "skills");
  }
  const known = action as SkillsAction;
  if (rest.length !== arity[known]) throw new UsageError(`Usage: ${usage[known]}.`, "skills");
  if (values.json === true && known !== "list") throw new UsageError("--json goes with 'skills list' only.", "skills");
  const scope = typeof values.scope === "string" ? values.scope.trim() : undefined;
  if (scope === "") throw new UsageError("--scope needs a value: global, slack:<team> or discord:<guild>.", "skills");
  return { command: "skills", options: { action: known, target: rest[0], directory: rest[1], scope, json: values.json === true } };
}
