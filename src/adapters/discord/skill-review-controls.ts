/**
 * Approving skills from Discord. After a reply that proposed skills, one
 * message a proposal (skill-review-message.ts) with Approve / Reject buttons
 * for the approvers named in THREADBOOK_SKILL_APPROVERS. A click from anyone
 * else gets an ephemeral refusal and changes nothing. An approver's click is
 * acknowledged at once as an update of that message (Discord's 3 seconds),
 * then decided, and the message is edited to show the outcome. A decision
 * the review refuses (already decided, a module clash) is said to the
 * clicker alone, and the message shows the skill's real state.
 */
import { MessageFlags, type ButtonInteraction, type SendableChannels } from "discord.js";
import type { Reply } from "../../core/turn.ts";
import { SkillError } from "../../errors.ts";
import { chatMessage } from "../chat-safe.ts";
import type { Logger } from "../../log.ts";
import type { SkillReview } from "../../skills/skill-review.ts";
import type { DiscordContext } from "./discord-context.ts";
import { parseSkillButtonId } from "./skill-button-id.ts";
import { mentionList, skillReviewMessage } from "./skill-review-message.ts";

/** Posts the review message of each skill the reply left waiting for approval, in order. */
export async function postSkillProposals(review: SkillReview | undefined, place: SendableChannels, reply: Reply, logger: Logger): Promise<void> {
  const waiting = reply.proposedSkills.filter((skill) => skill.status === "proposed");
  if (waiting.length === 0) return;
  if (review === undefined) {
    logger.warn({ skills: waiting.map((skill) => skill.id) }, "skills proposed, but this adapter has no skill review to offer approval");
    return;
  }
  const approvers = review.approversOn("discord");
  for (const skill of waiting) {
    try {
      await place.send(skillReviewMessage(await review.view(skill.id), approvers));
    } catch (error) {
      logger.error({ err: error, skill: skill.id }, "could not post a skill for approval");
      await place.send(`threadbook could not show the proposed skill \`${skill.name}\` for approval here; approve it with \`threadbook skills approve ${skill.name}\`.`).catch(() => undefined);
    }
  }
}

export async function handleSkillButton(context: DiscordContext, interaction: ButtonInteraction): Promise<void> {
  const pressed = parseSkillButtonId(interaction.customId);
  const review = context.skillReview;
  if (pressed === null || review === undefined) {
    context.logger.info({ interaction: interaction.id, customId: interaction.customId.slice(0, 100) }, "a skill button this adapter does not know");
    await interaction.reply({ content: "threadbook does not know this button.", flags: MessageFlags.Ephemeral });
    return;
  }
  const by = `discord:${interaction.user.id}`;
  if (!review.isApprover(by)) {
    context.logger.info({ user: interaction.user.id, skill: pressed.id }, "skill decision refused: not an approver");
    const approvers = review.approversOn("discord");
    const content = approvers.length > 0
      ? `Only ${mentionList(approvers)} can approve skills.`
      : "Only the people in THREADBOOK_SKILL_APPROVERS can approve skills, and none of them is on Discord: use `threadbook skills approve`.";
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    return;
  }
  await interaction.deferUpdate();
  try {
    await review.decide(pressed.id, pressed.decision, by);
    context.logger.info({ skill: pressed.id, decision: pressed.decision, by }, "skill decided");
  } catch (error) {
    if (!(error instanceof SkillError)) throw error;
    context.logger.warn({ err: error, skill: pressed.id, decision: pressed.decision, by }, "skill decision refused");
    await interaction.followUp({ content: chatMessage(error), flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
  }
  const view = await review.view(pressed.id).catch((error: unknown) => {
    if (error instanceof SkillError) return null;
    throw error;
  });
  if (view === null) return;
  const updated = skillReviewMessage(view, review.approversOn("discord"));
  // An edit pings no one; the outcome names the approver without a ping.
  await interaction.editReply({ components: updated.components, allowedMentions: { parse: [] } });
}
