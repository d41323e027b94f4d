/**
 * The skill figures for the report: a warm acquire with the twenty bench
 * skills beside one with none (median, p90, p95, the ratio), and the tokens
 * the skills add to the model's instructions, with issue 10's targets.
 */
import type { SkillAcquireMeasurements } from "./skill-acquire-bench.ts";
import { SKILL_PROMPT_TARGETS, type SkillPromptFigures } from "./skill-prompt-bench.ts";
import { roundMs, summarize } from "./statistics.ts";

export const SKILL_ACQUIRE_TARGETS = {
  /** `withSkillsMs` median under this. */
  withSkillsMs: 50,
};

export interface SkillTimeFigure {
  median: number;
  p90: number;
  p95: number;
  count: number;
}

export interface SkillFigures {
  acquire: {
    withSkillsMs: SkillTimeFigure;
    withoutSkillsMs: SkillTimeFigure;
    /** From the acquire's start to a trivial first cell's answer, by when the skills are written. */
    withSkillsFirstCellMs: SkillTimeFigure;
    withoutSkillsFirstCellMs: SkillTimeFigure;
    /** Of the acquire with skills, reading them from the store; the rest is writing them into the container. */
    withSkillsStoreMs: SkillTimeFigure;
    /** Medians: with skills over without. */
    withOverWithout: number;
    skillCount: number;
    fileCount: number;
    bytes: number;
    /** Every session with skills held each SKILL.md and imported each script's function; every one without had an empty /skills. */
    checkedInSession: true;
  };
  prompt: SkillPromptFigures;
  targets: typeof SKILL_ACQUIRE_TARGETS & typeof SKILL_PROMPT_TARGETS;
}

function timeFigure(samples: number[]): SkillTimeFigure {
  const summary = summarize(samples);
  const sorted = [...samples].sort((a, b) => a - b);
  const p95 = sorted[Math.max(1, Math.ceil(0.95 * sorted.length)) - 1] ?? Number.NaN;
  return { median: roundMs(summary.median), p90: roundMs(summary.p90), p95: roundMs(p95), count: summary.count };
}

export function skillFigures(acquire: SkillAcquireMeasurements, prompt: SkillPromptFigures): SkillFigures {
  const withSkillsMs = timeFigure(acquire.withSkillsMs);
  const withoutSkillsMs = timeFigure(acquire.withoutSkillsMs);
  return {
    acquire: {
      withSkillsMs,
      withoutSkillsMs,
      withSkillsFirstCellMs: timeFigure(acquire.withSkillsFirstCellMs),
      withoutSkillsFirstCellMs: timeFigure(acquire.withoutSkillsFirstCellMs),
      withSkillsStoreMs: timeFigure(acquire.withSkillsStoreMs),
      withOverWithout: Math.round((withSkillsMs.median / withoutSkillsMs.median) * 10) / 10,
      skillCount: acquire.skillCount,
      fileCount: acquire.fileCount,
      bytes: acquire.bytes,
      checkedInSession: true,
    },
    prompt,
    targets: { ...SKILL_ACQUIRE_TARGETS, ...SKILL_PROMPT_TARGETS },
  };
}

/** Rows for the table: label, median, p90, samples, note. */
export function skillRows(figures: SkillFigures, ms: (value: number) => string): string[] {
  const verdict = (met: boolean) => (met ? "met" : "NOT met");
  const { acquire, prompt } = figures;
  const row = (label: string, figure: SkillTimeFigure, note: string) =>
    `  ${label.padEnd(34)}${ms(figure.median).padStart(11)}${ms(figure.p90).padStart(11)}${String(figure.count).padStart(8)}   ${note}`.trimEnd();
  const tokens = (label: string, value: string, note: string) => `  ${label.padEnd(34)}${value.padStart(30)}   ${note}`.trimEnd();
  const kilobytes = Math.round(acquire.bytes / 1024);
  const bodyNote = prompt.skillsWithBodyInPrompt === 0 && prompt.skillsWithScriptInPrompt === 0
    ? "no SKILL.md body or script in the prompt"
    : `SKILL.md body of ${prompt.skillsWithBodyInPrompt} and scripts of ${prompt.skillsWithScriptInPrompt} skill(s) IN the prompt`;
  return [
    `Skills: a warm acquire as the core makes it, ${acquire.skillCount} approved skills (${acquire.fileCount} files, ${kilobytes} KB) or none, checked in the session`,
    row(`with ${acquire.skillCount} skills`, acquire.withSkillsMs, `p95 ${ms(acquire.withSkillsMs.p95)}; ${acquire.withOverWithout}x without; target < ${SKILL_ACQUIRE_TARGETS.withSkillsMs} ms: ${verdict(acquire.withSkillsMs.median < SKILL_ACQUIRE_TARGETS.withSkillsMs)}`),
    row("with none", acquire.withoutSkillsMs, `p95 ${ms(acquire.withoutSkillsMs.p95)}`),
    row(`first cell, ${acquire.skillCount} skills`, acquire.withSkillsFirstCellMs, `from the acquire's start; the skills' tar (one docker exec) is written by then, in a turn while the model's first step runs`),
    row("first cell, none", acquire.withoutSkillsFirstCellMs, `p95 ${ms(acquire.withoutSkillsFirstCellMs.p95)}`),
    row("reading the skills from the store", acquire.withSkillsStoreMs, "the listing in the acquire, the files while it goes on"),
    `Skills in the model's instructions, ${prompt.encoding} tokens`,
    tokens(`without / with ${prompt.skillCount} skills`, `${prompt.tokensWithout} / ${prompt.tokensWith}`, `${(prompt.tokensWith / prompt.tokensWithout).toFixed(2)}x`),
    tokens("added a skill", `${prompt.tokensPerSkill}`, `a line ${prompt.tokensPerSkillLine}, the shared paragraph ${prompt.headerTokens}; target < ${SKILL_PROMPT_TARGETS.tokensPerSkill}: ${verdict(prompt.tokensPerSkill < SKILL_PROMPT_TARGETS.tokensPerSkill)}; ${bodyNote}`),
  ];
}
