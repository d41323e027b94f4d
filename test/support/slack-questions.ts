/**
 * Many questions at once through Slack, as a busy workspace asks them: each
 * from its own user, each a mention starting its own thread, all sent
 * together; then, per thread, when its answer ended (chat.stopStream), how
 * many answers it got, what the answer said, and whether the thread was told
 * it waits (a status message "Waiting for …"). The model that answers them
 * plays any number of one-cell turns in any order: a request without a
 * cell's output gets the cell, one with it gets the answer, each after
 * `delayMs` as a real model takes its time. Used by the suite's load test
 * and by the load benchmark.
 */
import type { OpenAIServer, RecordedRequest, ScriptedStep } from "../emulators/openai-server.ts";
import { codeStep, delayStep, textStep } from "../emulators/openai-server.ts";
import type { SlackMessage, SlackServer } from "../emulators/slack-server.ts";

export interface OneCellTurn {
  code: string;
  answer: string;
  /** How long the model takes each step; 0: at once. */
  delayMs: number;
}

/** Scripts `turns` one-cell turns (two model steps each) that may arrive in any order. */
export function scriptOneCellTurns(model: OpenAIServer, turns: number, turn: OneCellTurn): void {
  const step = (request: RecordedRequest): ScriptedStep => {
    const answer = hasCellOutput(request) ? textStep(turn.answer) : codeStep(turn.code);
    return turn.delayMs > 0 ? delayStep(turn.delayMs, answer) : answer;
  };
  model.script(Array.from({ length: 2 * turns }, () => step));
}

/** Whether the request hands the model a cell's result (Responses: a call output item; Chat: a tool message). */
function hasCellOutput(request: RecordedRequest): boolean {
  const items = (request.body["input"] ?? request.body["messages"] ?? []) as { type?: string; role?: string }[];
  return Array.isArray(items) && items.some((item) => item.type?.endsWith("_call_output") === true || item.role === "tool");
}

export interface ThreadOutcome {
  rootTs: string;
  user: string;
  /** performance.now() when the mention was sent. */
  sentAt: number;
  /** When its first answer ended; null: none yet. */
  answeredAt: number | null;
  /** Streamed answers ended in the thread: 1 when all went well. */
  answers: number;
  /** The streamed answer's text. */
  text: string;
  /** A status message in the thread said it waited. */
  toldWaiting: boolean;
}

export interface QuestionsAtOnce {
  threads: ThreadOutcome[];
  /** Settles once every thread has an answer; fails after `timeoutMs`, naming how many are missing. */
  answered(timeoutMs: number): Promise<void>;
  /** Stops following the emulator's calls. */
  close(): void;
}

/**
 * Sends `count` mentions at once, user i in channel `channel`, each its own
 * thread. With `spread`, the i-th goes over connection i % spread alone, as
 * Slack spreads an app's events over its replicas' connections; else over
 * every open connection.
 */
export async function askAtOnce(slack: SlackServer, options: { count: number; channel: string; team: string; botUserId: string; userPrefix: string; text: string; spread?: number }): Promise<QuestionsAtOnce> {
  const threads: ThreadOutcome[] = [];
  const byRoot = new Map<string, ThreadOutcome>();
  let onAllAnswered: (() => void) | undefined;
  const allAnswered = new Promise<void>((resolve) => { onAllAnswered = resolve; });
  const threadOf = (ts: unknown): ThreadOutcome | undefined => {
    const message = slack.messages.find((candidate) => candidate.ts === ts);
    return message?.threadTs === undefined ? undefined : byRoot.get(message.threadTs);
  };
  const stopListening = slack.onCall((call) => {
    if (call.method === "chat.stopStream") {
      const thread = threadOf(call.args.ts);
      if (thread === undefined) return;
      thread.answers += 1;
      thread.answeredAt ??= call.at;
      thread.text = streamedMarkdown(slack.messages.find((message) => message.ts === call.args.ts)!);
      if (threads.every((candidate) => candidate.answeredAt !== null)) onAllAnswered?.();
    } else if (call.method === "chat.postMessage" || call.method === "chat.update") {
      if (!String(call.args.text ?? "").startsWith("Waiting for")) return;
      const thread = call.method === "chat.postMessage" ? byRoot.get(String(call.args.thread_ts)) : threadOf(call.args.ts);
      if (thread !== undefined) thread.toldWaiting = true;
    }
  });
  const events = Array.from({ length: options.count }, (_, index) => {
    const rootTs = slack.nextTs();
    const user = `${options.userPrefix}${String(index).padStart(3, "0")}`;
    const thread: ThreadOutcome = { rootTs, user, sentAt: 0, answeredAt: null, answers: 0, text: "", toldWaiting: false };
    threads.push(thread);
    byRoot.set(rootTs, thread);
    return { thread, event: { type: "app_mention", user, text: `<@${options.botUserId}> ${options.text}`, ts: rootTs, event_ts: rootTs, channel: options.channel, team: options.team } };
  });
  await Promise.all(events.map(({ thread, event }, index) => {
    thread.sentAt = performance.now();
    return slack.deliver(event, options.spread === undefined ? {} : { connection: index % options.spread });
  }));
  return {
    threads,
    answered: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${threads.filter((thread) => thread.answeredAt === null).length} of ${threads.length} questions were not answered within ${timeoutMs / 1000} s`)), timeoutMs);
      });
      try {
        if (threads.every((thread) => thread.answeredAt !== null)) return;
        await Promise.race([allAnswered, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: stopListening,
  };
}

/** A streamed message's text: its markdown chunks joined. */
export function streamedMarkdown(message: SlackMessage): string {
  return message.chunks.filter((chunk) => chunk.type === "markdown_text").map((chunk) => String(chunk.text)).join("");
}
