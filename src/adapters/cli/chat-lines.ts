/**
 * `threadbook chat --jsonl`: one request per line on stdin (plain text, or
 * JSON {"text", "files"}), one JSON reply per request on stdout, in order. A
 * line that is not a request gets a reply whose error says why.
 *
 * Control lines ({"command": "stop" | "reset" | "status"}) are handled as
 * they arrive, also while a turn runs, each answered at once with one JSON
 * line that carries its "command": so a script can stop a running turn.
 */
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Attachment } from "../../core/turn.ts";
import { ThreadbookError, userMessage } from "../../errors.ts";
import { parseChatLine, type ChatLine, type LineCommand } from "./chat-line.ts";
import { cliConversation, endUnnamedConversationOnClose, runCliTurn, type CliContext, type CliConversation } from "./cli-context.ts";
import type { ChatOptions } from "./command-line.ts";
import { jsonError, toJsonReply, type JsonReply } from "./json-reply.ts";
import { readAttachments } from "./read-attachments.ts";
import { exitCodes } from "./exit-codes.ts";
import { UsageError } from "./usage-error.ts";

/** Who a stop or a reset from a control line is said to come from, in the stopped turn's reply. */
export const lineStopper = "you";
export const lineResetter = "your reset";

type RequestLine = Extract<ChatLine, { kind: "request" }> | UsageError;

export async function runChatLines(options: ChatOptions, context: CliContext): Promise<number> {
  const conversation = cliConversation(options.conversation, "chat");
  endUnnamedConversationOnClose(context, conversation);
  const lines = createInterface({ input: context.input, crlfDelay: Infinity, terminal: false });
  const state = { running: false, waiting: 0 };
  const controls: Promise<void>[] = [];
  let answering = Promise.resolve();
  let failure: { error: unknown } | undefined;
  let number = 0;
  lines.on("line", (line) => {
    number += 1;
    if (line.trim() === "") return;
    const lineNumber = number;
    const parsed = parseOrUsageError(line);
    const fail = (error: unknown) => {
      failure ??= { error };
      lines.close();
    };
    if (!(parsed instanceof UsageError) && parsed.kind !== "request") {
      const answered = parsed.kind === "control"
        ? answerControl(parsed.command, conversation, context, state)
        : write(context, { command: parsed.command, error: `Line ${lineNumber}: ${parsed.problem}` });
      controls.push(answered.catch(fail));
      return;
    }
    state.waiting += 1;
    answering = answering.then(async () => {
      state.waiting -= 1;
      if (failure !== undefined) return;
      state.running = true;
      try {
        await answerRequest(parsed, lineNumber, conversation, options, context);
      } catch (error) {
        fail(error);
      } finally {
        state.running = false;
      }
    });
  });
  await once(lines, "close");
  await answering;
  await Promise.all(controls);
  if (failure !== undefined) throw failure.error;
  return exitCodes.answered;
}

function parseOrUsageError(line: string): ChatLine | UsageError {
  try {
    return parseChatLine(line);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
}

async function answerRequest(request: RequestLine, number: number, conversation: CliConversation, options: ChatOptions, context: CliContext): Promise<void> {
  let json: JsonReply;
  try {
    if (request instanceof UsageError) throw request;
    const attachments: Attachment[] = await readAttachments(request.files, "chat");
    const { reply, written } = await runCliTurn(context, conversation.key, request.text, attachments, options.out);
    json = toJsonReply(reply, { written, conversation: options.conversation ?? null });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    json = jsonError(`Line ${number}: ${error.message}`);
  }
  await write(context, json);
}

/** Stop and status answer at once; reset answers once the conversation is forgotten. */
async function answerControl(command: LineCommand, conversation: CliConversation, context: CliContext, state: { running: boolean; waiting: number }): Promise<void> {
  switch (command) {
    case "stop":
      return write(context, { command, stopped: context.agent.stop(conversation.key, lineStopper) });
    case "status":
      return write(context, { command, running: state.running, waiting: state.waiting });
    case "reset":
      try {
        await context.agent.reset(conversation.key, lineResetter);
        return await write(context, { command, reset: true });
      } catch (error) {
        if (!(error instanceof ThreadbookError)) throw error;
        return write(context, { command, reset: false, error: userMessage(error) });
      }
  }
}

/** A request's reply, or a control line's answer: e.g. {"command": "stop", "stopped": true}. */
type LineAnswer = JsonReply | ({ command: unknown; error?: string } & Record<string, unknown>);

async function write(context: CliContext, json: LineAnswer): Promise<void> {
  await context.writeOut(`${JSON.stringify(json)}\n`);
  if (typeof json.error === "string") context.writeError(`threadbook: ${json.error}\n`);
}
