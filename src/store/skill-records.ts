/** Rows of the skills table as records, for every database. */
import { integer, oneOf, optionalInteger, optionalText, text, type Row } from "./sqlite-rows.ts";
import type { SkillRecord, SkillStatus } from "./skill-store.ts";

const skillStatuses: readonly SkillStatus[] = ["proposed", "approved", "rejected"];
export const skillColumns = "id, scope, name, version, status, description, stems_json, proposed_by, proposed_at, conversation_key, decided_by, decided_at";

export function toSkill(row: Row): SkillRecord {
  return {
    id: integer(row, "id"),
    scope: text(row, "scope"),
    name: text(row, "name"),
    version: integer(row, "version"),
    status: oneOf(row, "status", skillStatuses),
    description: text(row, "description"),
    stems: JSON.parse(text(row, "stems_json")) as string[],
    proposedBy: text(row, "proposed_by"),
    proposedAt: integer(row, "proposed_at"),
    conversationKey: optionalText(row, "conversation_key"),
    decidedBy: optionalText(row, "decided_by"),
    decidedAt: optionalInteger(row, "decided_at"),
  };
}

