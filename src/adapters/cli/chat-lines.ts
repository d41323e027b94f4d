/**
 * `threadbook chat --jsonl`: one request per line on stdin (plain text, or
 * JSON {"text", "files"}), one JSON reply per line on stdout, in order. A
 * line that is not a request gets a reply whose error says why.
 */
import { createInterface } from "node:readline";
import type { Attachment } from "../../core/turn.ts";
import { cliConversation, endUnnamedConversationOnClose, runCliTurn, type CliContext } from "./cli-context.ts";
import type { ChatOptions } from "./command-line.ts";
import { jsonError, toJsonReply, type JsonReply } from "./json-reply.ts";
import { readAttachments } from "./read-attachments.ts";
import { exitCodes } from "./exit-codes.ts";
import { UsageError } from "./usage-error.ts";

interface LineRequest {
  text: string;
  files: string[];
}

export async function runChatLines(options: ChatOptions, context: CliContext): Promise<number> {
  const conversation = cliConversation(options.conversation, "chat");
  endUnnamedConversationOnClose(context, conversation);
  const lines = createInterface({ input: context.input, crlfDelay: Infinity, terminal: false });
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (line.trim() === "") continue;
    let json: JsonReply;
    try {
      const request = parseLine(line);
      const attachments: Attachment[] = await readAttachments(request.files, "chat");
      const { reply, written } = await runCliTurn(context, conversation.key, request.text, attachments, options.out);
      json = toJsonReply(reply, { written, conversation: options.conversation ?? null });
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      json = jsonError(`Line ${number}: ${error.message}`);
    }
    await context.writeOut(`${JSON.stringify(json)}\n`);
    if (json.error !== null) context.writeError(`threadbook: ${json.error}\n`);
  }
  return exitCodes.answered;
}

function parseLine(line: string): LineRequest {
  const trimmed = line.trim();
  if (!trimmed.startsWith("{")) return { text: trimmed, files: [] };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    throw new UsageError(`not valid JSON (${error instanceof Error ? error.message : String(error)}).`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError("expected a JSON object {\"text\": \"...\", \"files\": [...]}.");
  const { text = "", files = [] } = value as { text?: unknown; files?: unknown };
  if (typeof text !== "string") throw new UsageError("\"text\" must be a string.");
  if (!Array.isArray(files) || files.some((file) => typeof file !== "string")) throw new UsageError("\"files\" must be a list of paths.");
  if (text.trim() === "" && files.length === 0) throw new UsageError("the request has no text and no files.");
  return { text: text.trim(), files: files as string[] };
}
