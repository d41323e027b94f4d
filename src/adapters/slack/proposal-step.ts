/**
 * A skill the model proposes, as a step of the turn beside its cells: a task
 * card in the streamed reply, a line on the status message otherwise. The
 * name and the summary carry text the model wrote (a refused name is quoted
 * in the summary), so both are shown inert and bounded.
 */
import type { ProgressEvent } from "../../core/turn.ts";
import { inertLine as inert } from "./slack-text.ts";

/** The name in a title, after escaping: about a cell title's length. */
const nameChars = 80;
/** The summary in a task card's output or a status line, after escaping. */
export const proposalSummaryChars = 250;

type ProposalFinished = Extract<ProgressEvent, { type: "proposal-finished" }>;

/** The task card's id: its own series, apart from the cells' `cell-<index>`. */
export function proposalTaskId(index: number): string {
  return `proposal-${index}`;
}

/** "Propose skill `fiscal-calendar`", or "Propose a skill" when the model's arguments named none readable. */
export function proposalTitle(name: string | null): string {
  const shown = name === null ? "" : inert(name, nameChars).replaceAll("`", "'");
  return shown === "" ? "Propose a skill" : `Propose skill \`${shown}\``;
}

/** What the proposal came to, as one inert line. */
export function proposalSummary(summary: string): string {
  return inert(summary, proposalSummaryChars) || "no summary";
}

/** Stored (waiting or approved at once) completes the task; refused or failed is an error. */
export function proposalStatus(outcome: ProposalFinished["outcome"]): "complete" | "error" {
  return outcome === "proposed" || outcome === "approved" ? "complete" : "error";
}
