/**
 * What the CLI commands need from the process: the agent, the streams, who
 * the user is. Passed in, so the commands never reach for globals.
 */
import { randomBytes } from "node:crypto";
import type { Agent } from "../../core/agent.ts";
import type { Attachment, Reply, TurnUser } from "../../core/turn.ts";
import { ThreadbookError, userMessage } from "../../errors.ts";
import { withLogPath } from "./log-path-note.ts";
import { StderrProgress } from "./stderr-progress.ts";
import { writeReplyFiles } from "./write-reply-files.ts";

export interface CliContext {
  agent: Pick<Agent, "handle" | "stop" | "reset" | "end">;
  /** Who asks: the local user, on platform "cli". */
  user: TurnUser;
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Resolves once the text is handed to the stream, so the process may exit after it. */
  writeOut: (text: string) => Promise<void>;
  writeError: (text: string) => void;
  /** Where an interactive prompt is drawn: stderr, so stdout stays the replies alone. */
  promptOutput: NodeJS.WritableStream;
  /** Asks the process to shut down, as Ctrl-C does. */
  interrupt: () => void;
  /**
   * Adds work to do as the process stops, before the services close: on a
   * signal too, where the command's own `finally` would never run.
   */
  onClose: (work: () => Promise<void>) => void;
  /** The log file, named in messages that point to the log; undefined where the log is not a file. */
  logPath: string | undefined;
}

export interface CliConversation {
  key: string;
  /** Named with --conversation, so it outlives this process. */
  named: boolean;
}

export function cliConversation(name: string | undefined, command: string): CliConversation {
  return name === undefined ? { key: `cli:${command}-${randomBytes(6).toString("hex")}`, named: false } : { key: `cli:${name}`, named: true };
}

/**
 * Has an unnamed conversation ended as the process stops, its session
 * removed (a running cell stopped): nobody can continue it. A named one keeps
 * its session for the next process.
 */
export function endUnnamedConversationOnClose(context: CliContext, conversation: CliConversation): void {
  if (!conversation.named) context.onClose(() => endConversation(context, conversation));
}

async function endConversation(context: CliContext, conversation: CliConversation): Promise<void> {
  try {
    await context.agent.end(conversation.key);
  } catch (error) {
    if (!(error instanceof ThreadbookError)) throw error;
    context.writeError(`threadbook: could not remove the session: ${userMessage(error)}\n`);
  }
}

export interface CliTurnResult {
  reply: Reply;
  /** Paths written by --out, by file name. */
  written: Map<string, string>;
}

/**
 * Runs one turn with progress on stderr and writes its files to `out`, never
 * over a file already there (a renamed file is said on stderr). A failure to
 * write is put in the reply's error.
 */
export async function runCliTurn(context: CliContext, key: string, text: string, attachments: Attachment[], out: string | undefined): Promise<CliTurnResult> {
  const progress = new StderrProgress(context.writeError);
  const handled = await context.agent.handle({ conversationKey: key, user: context.user, text, attachments }, { progress });
  const reply = handled.error === null ? handled : { ...handled, error: withLogPath(handled.error, context.logPath) };
  if (out === undefined) return { reply, written: new Map() };
  try {
    const written = await writeReplyFiles(out, reply.files);
    for (const { taken, path } of written.renamed) context.writeError(`· ${taken} already exists, so this one went to ${path}\n`);
    return { reply, written: written.paths };
  } catch (error) {
    if (!(error instanceof ThreadbookError)) throw error;
    return { reply: { ...reply, error: reply.error ?? userMessage(error) }, written: new Map() };
  }
}
