/** `threadbook ask "<question>"`: one turn, the reply on stdout as text or JSON. */
import type { Attachment } from "../../core/turn.ts";
import { cliConversation, endUnnamedConversationOnClose, runCliTurn, type CliContext } from "./cli-context.ts";
import type { AskOptions } from "./command-line.ts";
import { toJsonReply } from "./json-reply.ts";
import { readAttachments } from "./read-attachments.ts";
import { renderReply } from "./render-reply.ts";
import { exitCodes } from "./exit-codes.ts";

export interface PreparedAsk {
  options: AskOptions;
  attachments: Attachment[];
}

/** Reads the attached files first, so a bad path fails before anything starts. Throws UsageError. */
export async function prepareAsk(options: AskOptions): Promise<PreparedAsk> {
  return { options, attachments: await readAttachments(options.files, "ask") };
}

export async function runAsk({ options, attachments }: PreparedAsk, context: CliContext): Promise<number> {
  const conversation = cliConversation(options.conversation, "ask");
  endUnnamedConversationOnClose(context, conversation);
  const { reply, written } = await runCliTurn(context, conversation.key, options.question, attachments, options.out);
  if (options.json) {
    await context.writeOut(`${JSON.stringify(toJsonReply(reply, { written, conversation: options.conversation ?? null }), null, 2)}\n`);
  } else {
    await context.writeOut(renderReply(reply, written));
  }
  if (reply.error !== null) context.writeError(`threadbook: ${reply.error}\n`);
  return reply.error === null ? exitCodes.answered : exitCodes.failed;
}
