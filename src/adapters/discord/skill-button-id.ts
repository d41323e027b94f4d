/**
 * The custom id of an Approve or Reject button on a skill proposal:
 * `skill:approve:<version id>` or `skill:reject:<version id>`. What a click
 * carries back is untrusted: it is parsed strictly and bounded.
 */

export type SkillDecision = "approved" | "rejected";

export interface SkillButton {
  decision: SkillDecision;
  /** The stored skill version's id. */
  id: number;
}

/** Every skill button's custom id starts so; another button is not the skill review's. */
export const skillButtonPrefix = "skill:";

const pattern = /^skill:(approve|reject):([1-9][0-9]{0,14})$/;

export function skillButtonId(decision: SkillDecision, id: number): string {
  return `${skillButtonPrefix}${decision === "approved" ? "approve" : "reject"}:${id}`;
}

/** The button a custom id names, or null when it is not one this adapter makes. */
export function parseSkillButtonId(customId: string): SkillButton | null {
  // Discord allows 100 characters; a valid one is far shorter.
  if (customId.length > 40) return null;
  const match = pattern.exec(customId);
  if (match === null) return null;
  const id = Number(match[2]);
  if (!Number.isSafeInteger(id)) return null;
  return { decision: match[1] === "approve" ? "approved" : "rejected", id };
}
