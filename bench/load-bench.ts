/**
 * A busy workspace (issue 17): the real `threadbook start` in a child
 * process, default settings, its Slack in Socket Mode against the Slack
 * emulator and its model the loopback emulator. First a few lone questions,
 * one after another, each in a new thread; then `questions` at once, from as
 * many users in as many threads. Each is a one-cell turn (two model steps),
 * the model answering at once or taking `modelDelayMs` a step. Time to
 * answer runs from the mention sent to the end of its streamed answer. The
 * bot's peak memory is its resident high-water mark (VmHWM), read before it
 * stops. Every container of the run is removed after, on failure too.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import { startOpenAIServer } from "../test/emulators/openai-server.ts";
import { SlackServer } from "../test/emulators/slack-server.ts";
import { BotProcess } from "../test/support/bot-process.ts";
import { askAtOnce, scriptOneCellTurns, type ThreadOutcome } from "../test/support/slack-questions.ts";
import { removeBenchContainers } from "./bench-sandbox.ts";
import { progress } from "./progress.ts";

const team = "T0LOAD";
const channel = "C0LOAD";
const botUserId = "U0BOT";
const CODE = "import statistics\nstatistics.median([3, 1, 2])";
const ANSWER = "The median is 2.";
/** Lone questions before the load: the first claims a warm session and is not counted. */
const LONE_QUESTIONS = 4;
/** Far past what any run takes; only a broken bot gets here. */
const ANSWER_TIMEOUT_MS = 600_000;

export interface LoadRun {
  modelDelayMs: number;
  /** Lone questions, one at a time, each in a new thread: time to answer. */
  loneMs: number[];
  /** The questions asked at once: time to answer, each. */
  atOnceMs: number[];
  questions: number;
  /** Threads whose answer arrived exactly once and said what the model answered. */
  answeredOnce: number;
  /** Threads told, while their question waited, what it waited for. */
  toldWaiting: number;
  /** The bot's resident high-water mark, in MB; with replicas, the largest of theirs. */
  peakMemoryMb: number;
  /** Processes of `threadbook start` that served the load, on one database. */
  replicas: number;
  /** What threads not answered once with the model's answer got instead: up to three distinct texts, each cut short. */
  otherAnswers: string[];
}

export interface LoadOptions {
  docker: Docker;
  instance: string;
  questions: number;
  modelDelayMs: number;
  signal: AbortSignal;
  /** Replicas of the bot, each with its own Slack connection, the events spread over them; 1 by default. */
  replicas?: number;
  /** THREADBOOK_DATABASE_URL for the bots; needed for more than one replica. */
  databaseUrl?: string;
}

export async function measureLoad(options: LoadOptions): Promise<LoadRun> {
  const replicas = options.replicas ?? 1;
  if (replicas > 1 && options.databaseUrl === undefined) throw new Error("replicas share a database: give a databaseUrl");
  const root = mkdtempSync(join(tmpdir(), "threadbook-bench-load-"));
  const botToken = `xoxb-${randomBytes(8).toString("hex")}`;
  const appToken = `xapp-${randomBytes(8).toString("hex")}`;
  const apiKey = `sk-bench-${randomBytes(8).toString("hex")}`;
  const slack = await SlackServer.start({ botToken, appToken, teamId: team, botUserId });
  const model = await startOpenAIServer({ apiKey });
  const turn = { code: CODE, answer: ANSWER, delayMs: options.modelDelayMs };
  const bots: BotProcess[] = [];
  try {
    for (let index = 0; index < replicas; index += 1) {
      const bot = new BotProcess({
        PATH: process.env["PATH"] ?? "",
        HOME: process.env["HOME"] ?? root,
        ...passThrough(["DOCKER_HOST", "THREADBOOK_SANDBOX_IMAGE", "THREADBOOK_SANDBOX_RUNTIME"]),
        OPENAI_API_KEY: apiKey,
        OPENAI_BASE_URL: model.baseURL,
        THREADBOOK_MODEL: "gpt-bench",
        THREADBOOK_MODEL_MAX_RETRIES: "0",
        // Each replica its own data directory, as on its own machine; the state is the database's when one is given.
        THREADBOOK_DATA_DIR: join(root, `data-${index}`),
        THREADBOOK_INSTANCE: options.instance,
        THREADBOOK_LOG_LEVEL: "warn",
        ...passThrough(["THREADBOOK_SNAPSHOT_MB"]),
        ...(options.databaseUrl === undefined ? {} : { THREADBOOK_DATABASE_URL: options.databaseUrl }),
        SLACK_BOT_TOKEN: botToken,
        SLACK_APP_TOKEN: appToken,
        SLACK_API_URL: slack.apiUrl,
      }, root);
      bots.push(bot);
      // One at a time, so each connection's place in the emulator's order is its replica's.
      await Promise.race([slack.whenConnections(index + 1, 120_000), bot.exited().then(() => { throw new Error(`a bot exited before it connected:\n${bot.stderr}`); })]);
    }
    const spread = replicas > 1 ? { spread: replicas } : {};

    const loneMs: number[] = [];
    for (let index = 0; index < LONE_QUESTIONS; index += 1) {
      options.signal.throwIfAborted();
      scriptOneCellTurns(model, 1, turn);
      const lone = await askAtOnce(slack, { count: 1, channel, team, botUserId, userPrefix: `U0LONE${index}`, text: "the median of 3, 1 and 2?", ...(replicas > 1 ? { spread: 1 } : {}) });
      await lone.answered(ANSWER_TIMEOUT_MS);
      lone.close();
      if (index > 0) loneMs.push(answerMs(lone.threads[0]!));
    }

    options.signal.throwIfAborted();
    progress(`${options.questions} questions at once, the model ${options.modelDelayMs === 0 ? "answering at once" : `taking ${options.modelDelayMs / 1000} s a step`}`);
    scriptOneCellTurns(model, options.questions, turn);
    const load = await askAtOnce(slack, { count: options.questions, channel, team, botUserId, userPrefix: "U0LOAD", text: "the median of 3, 1 and 2?", ...spread });
    await load.answered(ANSWER_TIMEOUT_MS);
    // A second answer to a thread would come right after the first; the bot is idle once the last is posted.
    load.close();
    const peakMemoryMb = Math.max(...bots.map((bot) => residentHighWaterMb(bot.pid)));
    return {
      modelDelayMs: options.modelDelayMs,
      loneMs,
      atOnceMs: load.threads.map(answerMs),
      questions: options.questions,
      answeredOnce: load.threads.filter((thread) => thread.answers === 1 && thread.text === ANSWER).length,
      toldWaiting: load.threads.filter((thread) => thread.toldWaiting).length,
      peakMemoryMb,
      replicas,
      otherAnswers: [...new Set(load.threads.filter((thread) => !(thread.answers === 1 && thread.text === ANSWER)).map((thread) => `${thread.answers} answer(s): ${thread.text.slice(0, 300)}`))].slice(0, 3),
    };
  } finally {
    await Promise.all(bots.map((bot) => bot.stop().catch((error: unknown) => progress(`a bot did not stop cleanly: ${error instanceof Error ? error.message : String(error)}`))));
    await removeBenchContainers(options.docker, options.instance).catch(() => undefined);
    await model.stop();
    await slack.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

function answerMs(thread: ThreadOutcome): number {
  return (thread.answeredAt ?? Number.NaN) - thread.sentAt;
}

/** The settings of this process the bot should see too, when set: where Docker is, and a chosen image or runtime. */
function passThrough(names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));
}

/** VmHWM of /proc/<pid>/status: the most memory the process has held resident. */
function residentHighWaterMb(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (match === null) throw new Error(`no VmHWM for process ${pid}`);
  return Math.round(Number(match[1]) / 1024);
}
