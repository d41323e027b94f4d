/**
 * One turn in a thread or DM: progress shown there (typing, a status
 * message), the agent's reply rendered in its place, then any skill it
 * proposed offered for approval. A duplicate delivery
 * leaves nothing behind; a failure to post is logged and said plainly.
 */
import { chatMessage, chatSafeProgress, chatSafeReply } from "../chat-safe.ts";
import type { Reply, Turn } from "../../core/turn.ts";
import type { SendableChannels } from "discord.js";
import type { DiscordContext } from "./discord-context.ts";
import { replyMessages } from "./reply-messages.ts";
import { postSkillProposals } from "./skill-review-controls.ts";
import { StatusMessage } from "./status-message.ts";

export interface AnswerOptions {
  /** The most one file may weigh on upload here (the interaction says; else Discord's default). */
  uploadLimitBytes: number;
}

export async function answerTurn(context: DiscordContext, place: SendableChannels, turn: Turn, options: AnswerOptions): Promise<void> {
  const logger = context.logger.child({ conversation: turn.conversationKey });
  const status = new StatusMessage(place, logger);
  let reply: Reply | null;
  try {
    reply = await context.agent.handle(turn, { progress: chatSafeProgress(status) });
  } catch (error) {
    logger.error({ err: error }, "turn failed");
    reply = failedReply(chatMessage(error));
  }
  if (reply === null) {
    status.abandon();
    return;
  }
  reply = chatSafeReply(reply);
  try {
    await status.finish(replyMessages(reply, options.uploadLimitBytes));
  } catch (error) {
    logger.error({ err: error }, "could not post the reply");
    await place.send("threadbook could not post its answer here. The details are in its log.").catch(() => undefined);
  }
  await postSkillProposals(context.skillReview, place, reply, logger);
}

function failedReply(message: string): Reply {
  return { text: "", cells: [], files: [], limit: null, error: message, filesOmitted: [], stoppedBy: null, turnId: null, attachmentsNotPlaced: [], proposedSkills: [] };
}
