/**
 * What approved skills add to the model's instructions: `systemPrompt` as the
 * core builds it (src/core/turn-run.ts) with the skills a conversation sees and
 * with none, counted in tokens of o200k_base (the encoding of OpenAI's current
 * models) by a real BPE tokenizer. Also whether anything of a skill beyond its
 * name and description reached the prompt: a line of a SKILL.md body or of a
 * script.
 */
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { SANDBOX_LIBRARIES, systemPrompt } from "../src/core/prompt.ts";
import { parseManifest } from "../src/skills/front-matter.ts";
import { skillScope, visibleSkills } from "../src/skills/session-skills.ts";
import type { SkillStore } from "../src/store/skill-store.ts";

export const SKILL_PROMPT_TARGETS = {
  /** `tokensPerSkill` under this. */
  tokensPerSkill: 100,
};

export interface SkillPromptFigures {
  encoding: "o200k_base";
  skillCount: number;
  tokensWithout: number;
  tokensWith: number;
  /** (with − without) / skills: the header paragraph shared among them included. */
  tokensPerSkill: number;
  /** A skill's own line: (with all − with one) / (all − 1). */
  tokensPerSkillLine: number;
  /** The paragraph introducing skills, paid once when there is at least one. */
  headerTokens: number;
  /** Skills with a line (20 characters or more) of their SKILL.md body in the prompt; 0 is right. */
  skillsWithBodyInPrompt: number;
  /** Skills with a line (20 characters or more) of a script in the prompt; 0 is right. */
  skillsWithScriptInPrompt: number;
}

function substantialLines(text: string): string[] {
  return text.split("\n").map((line) => line.trim()).filter((line) => line.length >= 20);
}

export async function measureSkillPrompt(store: SkillStore, facts: { pythonVersion: string; cellTimeoutMs: number }): Promise<SkillPromptFigures> {
  const skills = await visibleSkills(store, skillScope({ platform: "slack", id: "UBENCH", workspace: "TBENCH" }));
  if (skills.length < 2) throw new Error(`the prompt figures need at least two skills; the store shows ${skills.length}`);
  const prompt = (shown: typeof skills) => systemPrompt({ ...facts, libraries: SANDBOX_LIBRARIES, skills: shown });
  const tokens = (text: string) => encode(text).length;
  const withAll = prompt(skills);
  const tokensWithout = tokens(prompt([]));
  const tokensWith = tokens(withAll);
  const tokensWithOne = tokens(prompt(skills.slice(0, 1)));
  const perLine = (tokensWith - tokensWithOne) / (skills.length - 1);

  let skillsWithBodyInPrompt = 0;
  let skillsWithScriptInPrompt = 0;
  for (const skill of skills) {
    const files = await store.skillFiles(skill.id);
    const manifest = files.find((file) => file.path === "SKILL.md");
    if (manifest === undefined) throw new Error(`the skill ${skill.name} has no SKILL.md in the store`);
    const body = substantialLines(parseManifest(manifest.data.toString("utf8")).instructions);
    if (body.length === 0) throw new Error(`the skill ${skill.name} has no body to look for`);
    if (body.some((line) => withAll.includes(line))) skillsWithBodyInPrompt += 1;
    const script = files.filter((file) => file.path.endsWith(".py")).flatMap((file) => substantialLines(file.data.toString("utf8")));
    if (script.some((line) => withAll.includes(line))) skillsWithScriptInPrompt += 1;
  }
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    encoding: "o200k_base",
    skillCount: skills.length,
    tokensWithout,
    tokensWith,
    tokensPerSkill: round((tokensWith - tokensWithout) / skills.length),
    tokensPerSkillLine: round(perLine),
    headerTokens: round(tokensWithOne - tokensWithout - perLine),
    skillsWithBodyInPrompt,
    skillsWithScriptInPrompt,
  };
}
