/**
 * Deciding on proposed skills from a chat platform: only the people named in
 * THREADBOOK_SKILL_APPROVERS (platform user ids such as "slack:U123") may
 * approve or reject, each decision on one version, by its id.
 */
import { SkillError } from "../errors.ts";
import type { SkillRecord, StoredSkillFile } from "../store/skill-store.ts";
import type { SkillLibrary } from "./skill-library.ts";

export class SkillReview {
  readonly approvers: readonly string[];
  readonly #library: SkillLibrary;

  constructor(library: SkillLibrary, approvers: readonly string[]) {
    this.#library = library;
    this.approvers = approvers;
  }

  /** `userKey`: "<platform>:<user id>", e.g. "slack:U123". */
  isApprover(userKey: string): boolean {
    return this.approvers.includes(userKey);
  }

  /** The approvers on one platform, by their ids there: `approversOn("slack")` → ["U123"]. */
  approversOn(platform: string): string[] {
    const prefix = `${platform}:`;
    return this.approvers.filter((approver) => approver.startsWith(prefix)).map((approver) => approver.slice(prefix.length));
  }

  /** A version and its files, to show its description and code. */
  view(id: number): Promise<{ record: SkillRecord; files: StoredSkillFile[] }> {
    return this.#library.version(id);
  }

  async decide(id: number, decision: "approved" | "rejected", by: string): Promise<SkillRecord> {
    if (!this.isApprover(by)) {
      throw new SkillError("skill_not_allowed", "Only the people named in THREADBOOK_SKILL_APPROVERS can approve or reject skills.", { details: { by } });
    }
    return this.#library.decide(id, decision, by);
  }
}
