/** SKILL.md: YAML front matter between `---` lines, then markdown instructions. */
import { parse, stringify } from "yaml";
import { SkillError } from "../errors.ts";
import { checkDescription, checkName, checkRequirements, manifestFileName, refuse } from "./skill-rules.ts";
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
  const requirements = checkRequirements((metadata as Record<string, unknown> | null | undefined)?.requirements);
  return {
    manifest: {
      name: checkName(fields.name),
      description: checkDescription(fields.description),
      license: optionalText("license"),
      compatibility: optionalText("compatibility"),
      metadata: (metadata ?? null) as Record<string, unknown> | null,
      requirements,
    },
    instructions: text.slice(match[0].length),
  };
}

/** SKILL.md's text: the fields as YAML front matter (requirements under metadata, when there are any), then the instructions. */
export function manifestText(fields: { name: string; description: string; requirements?: readonly string[] }, instructions: string): string {
  const body = instructions.trim();
  const requirements = fields.requirements ?? [];
  const front = { name: fields.name, description: fields.description, ...(requirements.length === 0 ? {} : { metadata: { requirements } }) };
  return `---\n${stringify(front, { lineWidth: 0 })}---\n${body === "" ? "" : `\n${body}\n`}`;
}

/**
 * The requirements a stored skill's SKILL.md declares; [] when it declares
 * none, and for a skill stored before requirements were checked whose
 * metadata.requirements is not a valid list: nothing was approved as a package to install.
 */
export function requirementsOf(files: readonly { path: string; data: Buffer }[]): string[] {
  const manifest = files.find((file) => file.path === manifestFileName);
  if (manifest === undefined) return [];
  try {
    return parseManifest(manifest.data.toString("utf8")).manifest.requirements;
  } catch (error) {
    if (error instanceof SkillError) return [];
    throw error;
  }
}
