/** SKILL.md: YAML front matter between `---` lines, then markdown instructions. */
import { parse, stringify } from "yaml";
import { checkDescription, checkName, refuse } from "./skill-rules.ts";
import type { SkillManifest } from "./skill.ts";

const frontMatterPattern = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

export function parseManifest(text: string): { manifest: SkillManifest; instructions: string } {
  const match = frontMatterPattern.exec(text);
  if (match === null) refuse("front-matter", "SKILL.md does not start with YAML front matter between '---' lines.");
  let value: unknown;
  try {
    value = parse(match[1] as string, { maxAliasCount: 10 });
  } catch (error) {
    const reason = error instanceof Error ? (error.message.split("\n")[0] ?? "") : "";
    refuse("front-matter", `SKILL.md's front matter is not valid YAML: ${reason}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) refuse("front-matter", "SKILL.md's front matter is not a YAML mapping of fields.");
  const fields = value as Record<string, unknown>;
  const optionalText = (field: string): string | null => {
    const found = fields[field];
    if (found === undefined || found === null) return null;
    if (typeof found !== "string") refuse("front-matter", `SKILL.md's ${field} must be text.`);
    return found;
  };
  const metadata = fields.metadata;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== "object" || Array.isArray(metadata))) {
    refuse("front-matter", "SKILL.md's metadata must be a mapping of keys to values.");
  }
  return {
    manifest: {
      name: checkName(fields.name),
      description: checkDescription(fields.description),
      license: optionalText("license"),
      compatibility: optionalText("compatibility"),
      metadata: (metadata ?? null) as Record<string, unknown> | null,
    },
    instructions: text.slice(match[0].length),
  };
}

/** SKILL.md's text: the fields as YAML front matter, then the instructions. */
export function manifestText(fields: { name: string; description: string }, instructions: string): string {
  const body = instructions.trim();
  return `---\n${stringify({ name: fields.name, description: fields.description }, { lineWidth: 0 })}---\n${body === "" ? "" : `\n${body}\n`}`;
}
