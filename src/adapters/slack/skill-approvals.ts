/**
 * Skills the model proposed, reviewed in Slack: a card per proposal in the
 * thread after the answer, and the Approve / Reject clicks on it. Only the
 * Slack users among the approvers can decide; a click's payload is
 * untrusted, so its value is parsed and bounded, and the version it names
 * must have come from the thread the card is in.
 */
import type { WebClient } from "@slack/web-api";
import type { ProposedSkill } from "../../core/turn.ts";
import { ThreadbookError } from "../../errors.ts";
import { chatMessage } from "../chat-safe.ts";
import type { Logger } from "../../log.ts";
import type { SkillReview } from "../../skills/skill-review.ts";
import { conversationKey } from "./conversation-key.ts";
import { skillCard, slackMentions, type SlackMessageContent } from "./skill-card.ts";

export interface CardPlace {
  team: string;
  channel: string;
  rootTs: string;
}

/** A click on a card's button, from the interaction payload. */
export interface SkillClick extends CardPlace {
  user: string;
  /** The card's own ts, for chat.update. */
  messageTs: string;
  /** The button's value, unparsed. */
  value: unknown;
}

export class SkillApprovals {
  readonly #review: SkillReview;
  readonly #client: () => WebClient;
  readonly #logger: Logger;

  constructor(review: SkillReview, client: () => WebClient, logger: Logger) {
    this.#review = review;
    this.#client = client;
    this.#logger = logger;
  }

  /** Posts a card in the thread for each proposal that waits for approval; never throws. */
  async post(place: CardPlace, proposals: readonly ProposedSkill[]): Promise<void> {
    for (const proposal of proposals) {
      if (proposal.status !== "proposed") continue;
      let card: SlackMessageContent;
      try {
        const { record, files } = await this.#review.view(proposal.id);
        card = skillCard({ record, files, approvers: this.#review.approvers });
      } catch (error) {
        this.#logger.warn({ err: error, skill: proposal.id }, "could not read a proposed skill for its card");
        card = { text: `Proposed skill ${proposal.name}: its card could not be shown. See it with \`threadbook skills show ${proposal.name}\`.`, blocks: [] };
      }
      await this.#client().chat.postMessage({ channel: place.channel, thread_ts: place.rootTs, text: card.text, ...(card.blocks.length === 0 ? {} : { blocks: card.blocks as never }) })
        .catch((error: unknown) => this.#logger.warn({ err: error, skill: proposal.id }, "could not post a skill's approval card"));
    }
  }

  /** Decides the card's version for an approver; anyone else, or a click that names no version of this thread, gets a plain note. Never throws. */
  async decide(click: SkillClick, decision: "approved" | "rejected"): Promise<void> {
    try {
      await this.#decide(click, decision);
    } catch (error) {
      if (!(error instanceof ThreadbookError)) this.#logger.error({ err: error }, "a skill decision failed");
      await this.#note(click, chatMessage(error));
    }
  }

  async #decide(click: SkillClick, decision: "approved" | "rejected"): Promise<void> {
    const id = versionId(click.value);
    const by = `slack:${click.user}`;
    if (!this.#review.isApprover(by)) {
      const mentions = slackMentions(this.#review.approvers);
      this.#logger.info({ user: click.user, skill: id }, "refused a skill decision from someone who is not an approver");
      return this.#note(click, `Only ${mentions.length > 0 ? mentions.join(", ") : "the people in THREADBOOK_SKILL_APPROVERS"} can approve skills.`);
    }
    if (id === null) return this.#note(click, "That button names no skill version.");
    const { record, files } = await this.#review.view(id);
    if (record.conversationKey !== conversationKey(click.team, click.channel, click.rootTs)) {
      this.#logger.warn({ user: click.user, skill: id }, "a skill button named a version proposed in another conversation");
      return this.#note(click, "That skill was not proposed in this thread.");
    }
    let decided = record;
    try {
      decided = await this.#review.decide(id, decision, by);
      this.#logger.info({ skill: id, name: record.name, version: record.version, decision, by }, "a skill was decided in Slack");
    } catch (error) {
      if (!(error instanceof ThreadbookError)) throw error;
      this.#logger.info({ err: error, skill: id, decision, by }, "a skill decision was refused");
      await this.#note(click, chatMessage(error));
      // The card shows the version as it now is, such as decided by someone else.
      decided = (await this.#review.view(id)).record;
      if (decided.status === "proposed") return;
    }
    const card = skillCard({ record: decided, files, approvers: this.#review.approvers });
    await this.#client().chat.update({ channel: click.channel, ts: click.messageTs, text: card.text, blocks: card.blocks as never })
      .catch((error: unknown) => this.#logger.warn({ err: error, skill: id }, "could not show a skill's decision on its card"));
  }

  async #note(click: SkillClick, text: string): Promise<void> {
    await this.#client().chat.postEphemeral({ channel: click.channel, user: click.user, thread_ts: click.rootTs, text })
      .catch((error: unknown) => this.#logger.warn({ err: error }, "could not post an ephemeral note"));
  }
}

/** A button's value as a version id: digits only, within a safe integer; null for anything else. */
function versionId(value: unknown): number | null {
  if (typeof value !== "string" || !/^[1-9][0-9]{0,14}$/.test(value)) return null;
  return Number(value);
}
