/**
 * What the store keeps of skills: every version of each, with its files.
 * A version is never changed, only decided (approved or rejected) once;
 * `removeSkill` drops every version of a name in a scope.
 */

export type SkillStatus = "proposed" | "approved" | "rejected";

export interface StoredSkillFile {
  path: string;
  data: Buffer;
}

export interface SkillRecord {
  id: number;
  /** "global", "slack:<team>", "discord:<guild>", or a person's own: "slack:<team>:user:<user>", "discord:user:<user>". */
  scope: string;
  name: string;
  /** 1 for the first version of the name in its scope, then 2, 3, … */
  version: number;
  status: SkillStatus;
  description: string;
  /** Stems of its `scripts/<stem>.py`. */
  stems: string[];
  /** e.g. "slack:U123", or "cli:<login>" for an import. */
  proposedBy: string;
  proposedAt: number;
  /** The conversation a proposal came from; null for an import. */
  conversationKey: string | null;
  /** Who approved or rejected it, and when; null while proposed. */
  decidedBy: string | null;
  decidedAt: number | null;
}

export interface NewSkillVersion {
  scope: string;
  name: string;
  description: string;
  stems: string[];
  files: StoredSkillFile[];
  status: "proposed" | "approved";
  proposedBy: string;
  conversationKey: string | null;
}

export interface SkillFilter {
  /** Only these scopes. */
  scopes?: readonly string[];
  name?: string;
  status?: SkillStatus;
}

export interface SkillStore {
  /** Stores the next version of the name in its scope, with its files, all or nothing. An approved one is decided by its proposer. */
  addSkillVersion(input: NewSkillVersion): Promise<SkillRecord>;
  /** Versions matching every given field, by scope, name and version. */
  listSkills(filter?: SkillFilter): Promise<SkillRecord[]>;
  /** One version by its id; null when there is none (removed, or never stored). */
  skill(id: number): Promise<SkillRecord | null>;
  /** A version's files, in the order they were given. */
  skillFiles(id: number): Promise<StoredSkillFile[]>;
  /** Approves or rejects a proposed version; rejects with a StoreError when it is not proposed. */
  decideSkill(id: number, status: "approved" | "rejected", by: string): Promise<SkillRecord>;
  /** Drops every version of the name in the scope; returns how many. */
  removeSkill(scope: string, name: string): Promise<number>;
}
