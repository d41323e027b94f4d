/**
 * `threadbook chat` in a terminal: a prompt on stderr, each message one
 * turn in the same session, the replies on stdout. `/file PATH` attaches a
 * file to the next message (and to the one after, when a failed turn never
 * put it in the session); `/reset` starts over; `/exit` or Ctrl-D quits.
 * Ctrl-C while a turn runs stops that turn (a running cell is interrupted,
 * its variables kept); at the prompt, or again before the stopped turn has
 * ended, it quits.
 */
import { createInterface } from "node:readline";
import { formatBytes } from "../../core/format-size.ts";
import type { Attachment } from "../../core/turn.ts";
import { cliConversation, endUnnamedConversationOnClose, runCliTurn, type CliContext } from "./cli-context.ts";
import type { ChatOptions } from "./command-line.ts";
import { readAttachments } from "./read-attachments.ts";
import { renderReply } from "./render-reply.ts";
import { exitCodes } from "./exit-codes.ts";
import { UsageError } from "./usage-error.ts";

const commandsHelp = "/file PATH attaches a file to your next message, /reset starts over, /exit quits; Ctrl-C stops a running answer.";

/** Who a Ctrl-C or a /reset is said to come from, in the reply of the turn it stopped. */
export const terminalStopper = "you";
export const terminalResetter = "your reset";

export async function runChatTerminal(options: ChatOptions, context: CliContext): Promise<number> {
  const conversation = cliConversation(options.conversation, "chat");
  endUnnamedConversationOnClose(context, conversation);
  const terminal = context.input.isTTY === true;
  const lines = createInterface({ input: context.input, output: context.promptOutput, terminal, crlfDelay: Infinity });
  // With a terminal, Ctrl-C reaches readline rather than the process: it stops
  // the running turn; at the prompt, or pressed again while that turn ends, it quits.
  let running = false;
  let stopping = false;
  lines.on("SIGINT", () => {
    if (running && !stopping && context.agent.stop(conversation.key, terminalStopper)) {
      stopping = true;
      context.writeError("\n· stopping this answer… (Ctrl-C again quits)\n");
    } else context.interrupt();
  });
  let attachments: Attachment[] = [];
  if (terminal) context.writeError(`threadbook chat: ask a question about your data. ${commandsHelp}\n`);
  lines.setPrompt("› ");
  if (terminal) lines.prompt();
  try {
    for await (const raw of lines) {
      const line = raw.trim();
      if (line.startsWith("/")) {
        const [command = "", ...words] = line.split(/\s+/);
        const argument = line.slice(command.length).trim().replace(/^(["'])(.*)\1$/, "$2");
        if (command === "/exit" || command === "/quit") break;
        if (command === "/help") context.writeError(`${commandsHelp}\n`);
        else if (command === "/reset") {
          await context.agent.reset(conversation.key, terminalResetter);
          attachments = [];
          context.writeError("· started over: a new session and no earlier messages\n");
        } else if (command === "/file" && words.length > 0) {
          try {
            const [file] = await readAttachments([argument], "chat");
            if (file !== undefined) attachments.push(file);
            context.writeError(`· ${file?.name} (${formatBytes(file?.data.length ?? 0)}) goes with your next message\n`);
          } catch (error) {
            if (!(error instanceof UsageError)) throw error;
            context.writeError(`threadbook: ${error.message}\n`);
          }
        } else context.writeError(`threadbook: unknown command ${command}. ${commandsHelp}\n`);
      } else if (line !== "" || attachments.length > 0) {
        running = true;
        let turn;
        try {
          turn = await runCliTurn(context, conversation.key, line, attachments, options.out);
        } finally {
          running = false;
          stopping = false;
        }
        const { reply, written } = turn;
        await context.writeOut(`${renderReply(reply, written)}\n`);
        if (reply.error !== null) context.writeError(`threadbook: ${reply.error}\n`);
        // Files a failed turn never put in the session are kept nowhere else: they go with the next message.
        if (reply.attachmentsNotPlaced.length === 0) attachments = [];
        else context.writeError(`${keptAttachmentsNote(reply.attachmentsNotPlaced)}\n`);
      }
      if (terminal) lines.prompt();
    }
  } finally {
    lines.close();
  }
  return exitCodes.answered;
}

function keptAttachmentsNote(names: string[]): string {
  if (names.length === 1) return `· ${names[0]} did not reach the session, so it goes with your next message (/reset drops it)`;
  return `· ${names.slice(0, -1).join(", ")} and ${names.at(-1)} did not reach the session, so they go with your next message (/reset drops them)`;
}
