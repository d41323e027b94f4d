/**
 * A skill proposal as one line of the status message: "⏳ Proposing skill
 * `fiscal-calendar`…" while the core checks and stores it, then
 * "✅ Proposed skill `fiscal-calendar`: version 1, waiting for approval" or
 * "❌ Skill proposal refused: …". The name and summary come from the model's
 * arguments: shown escaped and bounded (untrusted-text.ts).
 */
import type { ProgressEvent } from "../../core/turn.ts";
import { inlineCode, plainLine } from "./untrusted-text.ts";

type ProposalFinished = Extract<ProgressEvent, { type: "proposal-finished" }>;

export interface ProposalLine {
  index: number;
  name: string | null;
  state: "running" | ProposalFinished["outcome"];
  summary: string;
}

/** The core caps a name at 64 characters; the adapter bounds it again for its own message limit. */
const nameChars = 64;
/** The core caps a summary at 200 characters. */
const summaryChars = 200;

export function proposalLineText(line: ProposalLine): string {
  const name = line.name === null ? null : inlineCode(line.name, nameChars);
  switch (line.state) {
    case "running":
      return name === null ? "⏳ Proposing a skill…" : `⏳ Proposing skill ${name}…`;
    case "proposed":
    case "approved":
      return `✅ Proposed skill${name === null ? "" : ` ${name}`}: ${plainLine(line.summary, summaryChars)}`;
    case "refused":
      // The core's summary starts "refused: "; said once.
      return `❌ Skill proposal refused: ${plainLine(line.summary.replace(/^\s*refused:\s*/i, ""), summaryChars)}`;
    case "failed":
      return `❌ Skill proposal${name === null ? "" : ` ${name}`} failed: ${plainLine(line.summary, summaryChars)}`;
  }
}
