/**
 * One call of the proposal tool, carried out: its arguments parsed and
 * bounded, the skill handed to the library, and the outcome said to the
 * model as the call's result. A bad shape, a broken rule or a library that
 * failed is told to the model (so it can fix and retry), never thrown.
 */
import { z } from "zod";
import { SkillError, ThreadbookError, userMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ProposalCall } from "./model/model-client.ts";
import type { ProposalContext, SkillProposal, SkillProposer } from "../skills/skill-proposer.ts";
import type { ProposedSkill } from "./turn.ts";

/**
 * Bounds on what is parsed at all, above the library's own rules (1 MB and
 * 100 files a skill, names of 64, descriptions of 1024 characters), which
 * then refuse with a message naming the rule.
 */
const maxArgumentsChars = 4 * 1024 * 1024;
const proposalSchema = z.object({
  name: z.string().max(1_000),
  description: z.string().max(10_000),
  instructions: z.string().max(2 * 1024 * 1024),
  files: z.array(z.object({ path: z.string().max(1_000), content: z.string().max(2 * 1024 * 1024) })).max(1_000),
  // The tool's schema asks for it; a call without it (an older transcript, a lenient API) declares none.
  requirements: z.array(z.string().max(1_000)).max(1_000).optional(),
});

const argumentsShape = "JSON {name, description, instructions, files: [{path, content}], requirements: [package, ...]}";

export interface ProposalOutcome {
  /** The call's result for the model. */
  output: string;
  /** The version stored, or null when nothing was. */
  skill: ProposedSkill | null;
  /** For the people watching: stored (waiting or approved), refused by a rule, or failed in the machinery. */
  outcome: "proposed" | "approved" | "refused" | "failed";
  /** What happened, in a few words for a progress line: "waiting for approval", or why not. */
  summary: string;
}

/** A progress line's summary holds at most this many characters. */
const maxSummaryChars = 200;

/** The proposed skill's name, read from the call's arguments as far as they can be read, for a progress line; null when they cannot. */
export function proposalName(argumentsText: string): string | null {
  if (argumentsText.length > maxArgumentsChars) return null;
  try {
    const value: unknown = JSON.parse(argumentsText);
    if (typeof value !== "object" || value === null || !("name" in value) || typeof value.name !== "string") return null;
    const name = value.name.replace(/[\p{Cc}\p{Cf}]/gu, "").trim().slice(0, 64);
    return name === "" ? null : name;
  } catch {
    return null;
  }
}

export async function carryOutProposal(call: ProposalCall, proposer: SkillProposer, context: ProposalContext, logger: Logger): Promise<ProposalOutcome> {
  const parsed = parseProposal(call.arguments);
  if (typeof parsed === "string") return refused(parsed);
  try {
    const stored = await proposer.propose(parsed, context);
    const skill: ProposedSkill = {
      id: stored.id,
      name: stored.name,
      scope: stored.scope,
      version: stored.version,
      description: stored.description,
      status: stored.status === "approved" ? "approved" : "proposed",
    };
    logger.info({ skill: skill.name, version: skill.version, status: skill.status, scope: skill.scope }, "skill proposed");
    return {
      output: storedOutput(skill),
      skill,
      outcome: skill.status,
      summary: skill.status === "approved" ? `version ${skill.version}, approved automatically` : `version ${skill.version}, waiting for approval`,
    };
  } catch (error) {
    if (error instanceof SkillError) {
      return refused(error.message);
    }
    if (!(error instanceof ThreadbookError)) throw error;
    logger.warn({ err: error, code: error.code, details: error.details }, "a skill proposal failed");
    return {
      output: `The skill could not be stored, through no fault of the proposal: ${sentence(userMessage(error))} Tell the user; do not retry now.`,
      skill: null,
      outcome: "failed",
      summary: bounded(`could not be stored: ${userMessage(error)}`),
    };
  }
}

function refused(reason: string): ProposalOutcome {
  return { output: `The skill was not stored: ${sentence(reason)} Fix it and call propose_skill again.`, skill: null, outcome: "refused", summary: bounded(`refused: ${reason}`) };
}

function bounded(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= maxSummaryChars ? line : `${line.slice(0, maxSummaryChars - 1)}…`;
}

/** The text, ending in a full stop unless it ends a sentence already. */
function sentence(text: string): string {
  return /[.!?]$/.test(text.trimEnd()) ? text.trimEnd() : `${text.trimEnd()}.`;
}

/** The answer when nothing keeps proposals (the model called a tool it was not offered). */
export const proposalsOffOutput = "Proposing skills is not available here; nothing was stored. Do not call propose_skill again.";

/** The answer when a turn has proposed as often as it may. */
export function tooManyProposalsOutput(limit: number): string {
  return `The skill was not stored: a turn may call propose_skill at most ${limit} times.`;
}

/** The reply's line for a stored proposal. */
export function proposalLine(skill: ProposedSkill): string {
  return skill.status === "approved"
    ? `Added skill \`${skill.name}\` (approved automatically): new conversations can import it.`
    : `Proposed skill \`${skill.name}\`: waiting for approval.`;
}

function storedOutput(skill: ProposedSkill): string {
  if (skill.status === "approved") {
    return `Added the skill ${skill.name} (version ${skill.version}), approved automatically: new conversations can import it. Tell the user in one sentence.`;
  }
  return (
    `Stored the skill ${skill.name} (version ${skill.version}) as a proposal, waiting for an approver: it cannot be imported until it is approved. ` +
    "The user is told it waits for approval; mention it in one sentence at most."
  );
}

/** The proposal, or what is wrong with its arguments. */
function parseProposal(text: string): SkillProposal | string {
  if (text.length > maxArgumentsChars) return `its arguments are over ${maxArgumentsChars / 1024 / 1024} MB.`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `its arguments are not valid JSON; send ${argumentsShape}.`;
  }
  const result = proposalSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => `${issue.path.join(".") || "arguments"}: ${issue.message}`);
  return `its arguments do not have the shape ${argumentsShape} (${issues.join("; ")}).`;
}
