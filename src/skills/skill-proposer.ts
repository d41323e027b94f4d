/**
 * The skill library's seam for the core: somewhere to hand a proposed skill.
 * The library (skill-library.ts) implements it; the core imports this seam
 * only, never the library or the store's skill shapes.
 */

/** A skill as the model proposes it: SKILL.md is built from name, description and instructions. */
export interface SkillProposal {
  name: string;
  description: string;
  /** SKILL.md's Markdown body. */
  instructions: string;
  /** `scripts/<stem>.py`, and optionally `references/…` and `assets/…`. */
  files: { path: string; content: string }[];
  /** Packages the skill needs beyond the sandbox's (SKILL.md's metadata.requirements), such as "tabulate>=0.9"; absent or [] for none. */
  requirements?: string[] | undefined;
}

export interface ProposalContext {
  /** The scope of the conversation it came from: "global", "slack:<team>", "discord:<guild>". */
  scope: string;
  /** Who asked, as "<platform>:<user id>", e.g. "slack:U1". */
  by: string;
  conversationKey: string;
  /** Approve at once when nothing clashes (THREADBOOK_SKILLS_AUTO_APPROVE). */
  autoApprove: boolean;
}

/** The stored version, as much of it as the core reads. */
export interface ProposedSkillVersion {
  id: number;
  scope: string;
  name: string;
  version: number;
  status: "proposed" | "approved" | "rejected";
  description: string;
}

export interface SkillProposer {
  /**
   * Validates the skill (naming rules, sizes, paths, Python compiles, module
   * clashes) and stores a new version as proposed, or approved when
   * `autoApprove` and nothing clashes. A refusal stores nothing and throws a
   * SkillError whose message names the rule; any other ThreadbookError (e.g.
   * Docker down during the compile check) is a failure of the machinery.
   */
  propose(proposal: SkillProposal, context: ProposalContext): Promise<ProposedSkillVersion>;
}
