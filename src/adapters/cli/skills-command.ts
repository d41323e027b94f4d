/**
 * Runs `threadbook skills …` against the store: no model and no session
 * needed; Docker only to compile an imported skill's Python in the sandbox image.
 */
import type { Config } from "../../config.ts";
import { skillCompileCheck } from "../../docker-sandbox-options.ts";
import { SkillLibrary } from "../../skills/skill-library.ts";
import { globalScope } from "../../skills/skill.ts";
import type { SkillRecord } from "../../store/skill-store.ts";
import { openStore } from "../../store/open-store.ts";
import type { SkillsOptions } from "./skills-command-line.ts";

export async function runSkillsCommand(options: SkillsOptions, config: Config, by: string, writeOut: (text: string) => Promise<void>): Promise<void> {
  const store = await openStore(config, { recoverInterruptedTurns: false });
  try {
    const library = new SkillLibrary(store.skills, skillCompileCheck(config));
    const name = options.target as string;
    switch (options.action) {
      case "list": {
        const records = await store.skills.listSkills();
        if (options.json) return writeOut(records.map((record) => `${JSON.stringify(listRecord(record))}\n`).join(""));
        return writeOut(records.length === 0 ? "No skills.\n" : records.map((record) => `${listLine(record)}\n`).join(""));
      }
      case "show": {
        const versions = await library.versions(name, options.scope);
        const newest = versions.at(-1) as SkillRecord;
        const files = await library.files(newest);
        const body = files.map((file) => `--- ${file.path} (${file.data.length} bytes)\n${file.data.toString("utf8")}${file.data.toString("utf8").endsWith("\n") ? "" : "\n"}`).join("");
        return writeOut(`${versions.map((record) => `${listLine(record)}\n`).join("")}\nVersion ${newest.version}:\n${body}`);
      }
      case "import": {
        const stored = await library.importPath(name, options.scope ?? globalScope, by);
        return writeOut(stored.map((record) => `Imported ${record.name} (${record.scope}, version ${record.version}), approved.\n`).join(""));
      }
      case "export": {
        const folder = await library.exportTo(name, options.scope, options.directory as string);
        return writeOut(`Wrote ${folder}\n`);
      }
      case "approve": {
        const record = await library.approve(name, options.scope, by);
        return writeOut(`Approved ${record.name} (${record.scope}, version ${record.version}).\n`);
      }
      case "reject": {
        const record = await library.reject(name, options.scope, by);
        return writeOut(`Rejected ${record.name} (${record.scope}, version ${record.version}).\n`);
      }
      case "remove": {
        const count = await library.remove(name, options.scope);
        return writeOut(`Removed ${name}: ${count} version${count === 1 ? "" : "s"}.\n`);
      }
    }
  } finally {
    await store.close();
  }
}

function listRecord(record: SkillRecord) {
  return {
    name: record.name,
    description: record.description,
    status: record.status,
    scope: record.scope,
    version: record.version,
    proposedBy: record.proposedBy,
    proposedAt: new Date(record.proposedAt).toISOString(),
    decidedBy: record.decidedBy,
    decidedAt: record.decidedAt === null ? null : new Date(record.decidedAt).toISOString(),
  };
}

function listLine(record: SkillRecord): string {
  const decided = record.decidedBy === null ? "" : `, ${record.status} by ${record.decidedBy} at ${new Date(record.decidedAt as number).toISOString()}`;
  return `${record.name}  v${record.version}  ${record.status}  ${record.scope}  proposed by ${record.proposedBy} at ${new Date(record.proposedAt).toISOString()}${decided}\n  ${record.description.replace(/\s+/g, " ")}`;
}
