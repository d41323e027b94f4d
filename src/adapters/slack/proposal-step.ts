/**
 * A skill the model proposes, as a step of the turn beside its cells: a task
 * card in the streamed reply, a line on the status message otherwise. The
 * name and the summary carry text the model wrote (a refused name is quoted
 * in the summary), so both are shown inert and bounded.
 */
import type { ProgressEvent } from "../../core/turn.ts";
import { inertText } from "./slack-text.ts";

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

/**
 * One line that cannot mention anyone or make a link: control and format
 * characters dropped, whitespace collapsed, Slack's escapes for &, < and >,
 * every @ broken up with a zero-width space; cut to `maxChars` with an
 * ellipsis, never inside an escape.
 */
function inert(text: string, maxChars: number): string {
  const escaped = inertText(text.replace(/\s+/g, " ").replace(/[\p{Cc}\p{Cf}]/gu, "").trim());
  if (escaped.length <= maxChars) return escaped;
  let cut = maxChars - 1;
  const ampersand = escaped.lastIndexOf("&", cut);
  if (ampersand !== -1 && !escaped.slice(ampersand, cut).includes(";") && escaped.indexOf(";", ampersand) >= cut) cut = ampersand;
  // Never split a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(escaped[cut - 1] ?? "")) cut -= 1;
  return `${escaped.slice(0, cut)}…`;
}
