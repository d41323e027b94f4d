/**
 * The adapter contract's driver for Slack: the real `node src/main.ts start`
 * in a child process, its Web API the Slack emulator (SLACK_API_URL), and
 * reached by either of Slack's ways in: a Socket Mode connection to the
 * emulator, or HTTP mode, where the driver posts events and clicks to the
 * bot's request URL signed with its signing secret, as Slack does. The driver is Ada in one channel thread: she
 * mentions the bot to start it, replies in the thread to go on, presses the
 * Stop button and says `reset`. What she sees is read back from the Web API
 * calls the bot made: the status message and its edits, the streamed
 * message's task cards and markdown (or, with streaming off, the answer and
 * code messages), and the files uploaded into the thread.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AdapterDriver, AskedTurn, ContractSetup, SeenCell, SeenFile, SeenReply, SentFile } from "../adapter-contract.ts";
import { SlackServer, type SlackCall, type SlackMessage } from "../emulators/slack-server.ts";
import { contractProcessEnv, mainScript } from "./contract-process.ts";
import { removeInstance, testInstance } from "./sandbox.ts";
import { ada, botUserId, buttonClick, channel, team, userPost } from "./slack-harness.ts";


/** How a user's client shows a mention: the member's name. */
const memberNames: Record<string, string> = { [ada]: "ada", [botUserId]: "threadbook" };
/** The bot's first start may build nothing but still warms a container: generous, as the machine is shared. */
const connectTimeoutMs = 120_000;
/** SIGTERM lets running turns finish for the shutdown grace; past this the bot is killed and the test fails. */
const exitAllowanceMs = 60_000;

export interface SlackDriverOptions {
  /** SLACK_STREAMING: off shows the work in one status message and the answer as messages. */
  streaming: boolean;
  /** How Slack reaches the bot: Socket Mode (SLACK_APP_TOKEN) by default, or HTTP mode (SLACK_SIGNING_SECRET). */
  mode?: "socket" | "http";
}

/** How the driver's posts and clicks reach the bot, and how it knows the bot can take them. */
interface WayIn {
  /** The bot's settings for this way in. */
  settings: Record<string, string>;
  /** Resolves once the bot takes events; `logged` resolves with the first line of the bot's log that matches. */
  ready(logged: (matches: (entry: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>): Promise<void>;
  /** Delivers an event; resolves once the bot acknowledged it. */
  event(event: Record<string, unknown>): Promise<void>;
  /** Delivers a click; resolves once the bot acknowledged it. */
  interaction(payload: Record<string, unknown>): Promise<void>;
}

export function slackDriverFactory(options: SlackDriverOptions): (setup: ContractSetup) => Promise<AdapterDriver> {
  return (setup) => startSlackDriver(setup, options);
}

async function startSlackDriver(setup: ContractSetup, options: SlackDriverOptions): Promise<AdapterDriver> {
  const botToken = `xoxb-${randomBytes(6).toString("hex")}`;
  const appToken = `xapp-${randomBytes(6).toString("hex")}`;
  const slack = await SlackServer.start({ botToken, appToken, teamId: team, botUserId });
  const wayIn = options.mode === "http" ? httpWayIn(slack) : socketWayIn(slack, appToken);
  const instance = testInstance();
  const root = mkdtempSync(join(tmpdir(), "threadbook-contract-slack-"));
  const child = spawn(process.execPath, [mainScript, "start"], {
    cwd: root,
    env: contractProcessEnv(setup, root, instance, {
      THREADBOOK_SHUTDOWN_GRACE_S: "5",
      SLACK_BOT_TOKEN: botToken,
      SLACK_API_URL: slack.apiUrl,
      SLACK_STREAMING: String(options.streaming),
      ...wayIn.settings,
    }),
    stdio: ["ignore", "ignore", "pipe"],
  });
  const driver = new SlackDriver(slack, wayIn, child, root, instance);
  try {
    await driver.connected();
  } catch (error) {
    await driver.close().catch(() => undefined);
    throw error;
  }
  return driver;
}

class SlackDriver implements AdapterDriver {
  readonly stopperName = `@${memberNames[ada]}`;
  readonly #slack: SlackServer;
  readonly #wayIn: WayIn;
  readonly #child: ChildProcess;
  readonly #root: string;
  readonly #instance: string;
  readonly #exited: Promise<[number | null, NodeJS.Signals | null]>;
  readonly #stopWatching: () => void;
  #stderr = "";
  /** The thread's root ts, once the first question started it. */
  #thread: string | undefined;
  #turn: SlackTurn | undefined;

  constructor(slack: SlackServer, wayIn: WayIn, child: ChildProcess, root: string, instance: string) {
    this.#slack = slack;
    this.#wayIn = wayIn;
    this.#child = child;
    this.#root = root;
    this.#instance = instance;
    this.#exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    child.stderr?.setEncoding("utf8").on("data", (text: string) => { this.#stderr += text; });
    void this.#exited.then(() => this.#turn?.ended(new Error(`threadbook exited before answering:\n${this.#stderr}`)));
    this.#stopWatching = slack.onCall((call) => this.#turn?.observe(call));
  }

  async connected(): Promise<void> {
    const exited = this.#exited.then(([code, signal]) => { throw new Error(`threadbook exited with ${code ?? signal} before connecting:\n${this.#stderr}`); });
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`threadbook was not ready ${connectTimeoutMs / 1000} s after it started:\n${this.#stderr}`)), connectTimeoutMs);
    });
    await Promise.race([this.#wayIn.ready((matches) => this.#logged(matches)), exited, overdue]).finally(() => clearTimeout(timer));
  }

  /** Resolves with the first line the bot has logged that `matches` (already, or as its stderr comes in). */
  #logged(matches: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const stderr = this.#child.stderr;
    return new Promise((resolve) => {
      const check = () => {
        const entry = logEntries(this.#stderr).find(matches);
        if (entry === undefined) return;
        stderr?.off("data", check);
        resolve(entry);
      };
      // Registered after the constructor's listener, so the text is kept before it is checked.
      stderr?.on("data", check);
      check();
    });
  }

  async ask(text: string, files: SentFile[] = []): Promise<AskedTurn> {
    const ts = this.#slack.nextTs();
    const posted = files.map((file) => this.#slack.addFile(file.name, file.data, "text/plain"));
    const attached = posted.length === 0 ? {} : { files: posted };
    const event = this.#thread === undefined
      ? userPost({ text: `<@${botUserId}> ${text}`, ts, ...attached })
      : userPost({ type: "message", channelType: "channel", text, ts, threadTs: this.#thread, ...attached });
    this.#thread ??= ts;
    const turn = new SlackTurn(this.#slack, this.#thread, ts);
    this.#turn = turn;
    await this.#wayIn.event(event);
    return turn;
  }

  async stop(): Promise<void> {
    const thread = this.#requireThread();
    const status = this.#slack.thread(channel, thread).findLast((message) => JSON.stringify(message.blocks).includes("threadbook_stop"));
    if (status === undefined) throw new Error("no Stop button is shown in the thread");
    await this.#wayIn.interaction(buttonClick({ actionId: "threadbook_stop", type: "button", value: "stop", messageTs: status.ts, threadTs: thread }));
  }

  async reset(): Promise<void> {
    const thread = this.#requireThread();
    const ts = this.#slack.nextTs();
    const callsBefore = this.#slack.calls.length;
    const answered = this.#slack.waitForCall("chat.postMessage", (call) => this.#slack.calls.indexOf(call) >= callsBefore && call.args.thread_ts === thread && /starts afresh/.test(String(call.args.text)));
    await this.#wayIn.event(userPost({ type: "message", channelType: "channel", text: "reset", ts, threadTs: thread }));
    await answered;
  }

  async close(): Promise<void> {
    try {
      const unanswered = this.#turn !== undefined && !this.#turn.done;
      this.#child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const overdue = new Promise<"overdue">((resolve) => { timer = setTimeout(() => resolve("overdue"), exitAllowanceMs); });
      const ended = await Promise.race([this.#exited, overdue]).finally(() => clearTimeout(timer));
      if (ended === "overdue") throw new Error(`threadbook had not exited ${exitAllowanceMs / 1000} s after SIGTERM:\n${this.#stderr}`);
      if (unanswered) throw new Error(`threadbook was closed with a question unanswered:\n${this.#stderr}`);
      const [code, signal] = ended;
      // A bot that stopped cleanly on the signal, its turns finished and posted, exits 0.
      if (code !== 0) throw new Error(`threadbook exited with ${code ?? signal} on SIGTERM, not 0:\n${this.#stderr}`);
      this.#slack.assertDone();
    } finally {
      this.#stopWatching();
      if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
      await removeInstance(this.#instance);
      await this.#slack.stop();
      rmSync(this.#root, { recursive: true, force: true });
    }
  }

  #requireThread(): string {
    if (this.#thread === undefined) throw new Error("no question was asked yet, so there is no thread");
    return this.#thread;
  }
}

/** Socket Mode: the bot connects to the emulator, which sends it envelopes and waits for their acks. */
function socketWayIn(slack: SlackServer, appToken: string): WayIn {
  return {
    settings: { SLACK_APP_TOKEN: appToken },
    ready: () => slack.whenConnected(connectTimeoutMs),
    event: async (event) => void (await slack.deliver(event)),
    interaction: (payload) => slack.deliverInteraction(payload),
  };
}

/**
 * HTTP mode: the bot listens on a port the system picks (THREADBOOK_HTTP_PORT
 * 0), which it names in its "listening" log line, and each event or click is
 * a signed POST to its request URL, acknowledged by a 200.
 */
function httpWayIn(slack: SlackServer): WayIn {
  const secret = randomBytes(16).toString("hex");
  let url: string | undefined;
  const requestUrl = (): string => {
    if (url === undefined) throw new Error("the bot has not said which port it listens on");
    return url;
  };
  const acknowledged = (what: string) => (response: { status: number; body: string }) => {
    if (response.status !== 200) throw new Error(`the bot answered ${what} with ${response.status}: ${response.body}`);
  };
  return {
    settings: { SLACK_SIGNING_SECRET: secret, THREADBOOK_HTTP_PORT: "0" },
    // main.ts logs "listening" for each adapter once its `start` resolved, with the port it listens on.
    ready: async (logged) => {
      const entry = await logged((line) => line.platform === "slack" && line.msg === "listening");
      if (typeof entry.port !== "number" || entry.port <= 0) throw new Error(`the bot listens but names no port: ${JSON.stringify(entry)}`);
      url = `http://127.0.0.1:${entry.port}/slack/events`;
    },
    event: async (event) => acknowledged("an event")(await slack.deliverHttp(requestUrl(), slack.eventCallback(event), { secret })),
    interaction: async (payload) => acknowledged("a click")(await slack.deliverHttpInteraction(requestUrl(), payload, { secret })),
  };
}

/** The bot's log lines (JSON, one a line, on stderr), complete lines only; other lines skipped. */
function logEntries(stderr: string): Record<string, unknown>[] {
  return stderr.split("\n").slice(0, -1).flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

interface Watcher {
  match: (text: string) => boolean;
  resolve: (text: string) => void;
  reject: (error: Error) => void;
}

/**
 * One question in the thread: what showed while it ran, and the reply once
 * the sign of work is taken back (the assistant status cleared, or the
 * hourglass reaction removed), which the adapter does last.
 */
class SlackTurn implements AskedTurn {
  readonly #slack: SlackServer;
  readonly #thread: string;
  readonly #postTs: string;
  readonly #firstMessage: number;
  readonly #uploadsBefore: Set<string>;
  readonly #progress: string[] = [];
  readonly #watchers: Watcher[] = [];
  readonly #reply: Promise<SeenReply>;
  #settle!: (outcome: SeenReply | Error) => void;
  done = false;

  constructor(slack: SlackServer, thread: string, postTs: string) {
    this.#slack = slack;
    this.#thread = thread;
    this.#postTs = postTs;
    this.#firstMessage = slack.messages.length;
    this.#uploadsBefore = new Set(slack.uploads.keys());
    this.#reply = new Promise((resolve, reject) => {
      this.#settle = (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
    });
    this.#reply.catch(() => undefined);
  }

  observe(call: SlackCall): void {
    if (this.done) return;
    const { method, args } = call;
    const inThread = args.thread_ts === this.#thread || this.#isThreadMessage(args.ts);
    if (!inThread && method !== "reactions.remove") return;
    switch (method) {
      case "chat.postMessage":
      case "chat.update":
        this.#seen(render(String(args.text ?? "")));
        return;
      case "chat.startStream":
      case "chat.appendStream":
        for (const chunk of chunksOf(args)) this.#seen(chunkText(chunk));
        return;
      case "assistant.threads.setStatus":
        if (args.status === "") this.ended(seenReply(this.#slack, this.#thread, this.#firstMessage, this.#uploadsBefore));
        return;
      case "reactions.remove":
        if (args.timestamp === this.#postTs && args.name === "hourglass_flowing_sand") this.ended(seenReply(this.#slack, this.#thread, this.#firstMessage, this.#uploadsBefore));
        return;
    }
  }

  ended(outcome: SeenReply | Error): void {
    if (this.done) return;
    this.done = true;
    for (const watcher of this.#watchers.splice(0)) watcher.reject(new Error(`the turn ended without that progress; seen:\n${this.#progress.join("\n")}`));
    this.#settle(outcome);
  }

  waitForProgress(match: (text: string) => boolean): Promise<string> {
    const shown = this.#progress.find(match);
    if (shown !== undefined) return Promise.resolve(shown);
    if (this.done) return Promise.reject(new Error(`the turn ended without that progress; seen:\n${this.#progress.join("\n")}`));
    return new Promise((resolve, reject) => this.#watchers.push({ match, resolve, reject }));
  }

  progressSeen(): string[] {
    return [...this.#progress];
  }

  reply(): Promise<SeenReply> {
    return this.#reply;
  }

  #isThreadMessage(ts: unknown): boolean {
    return typeof ts === "string" && this.#slack.messages.some((message) => message.ts === ts && message.threadTs === this.#thread);
  }

  #seen(text: string): void {
    if (text === "") return;
    this.#progress.push(text);
    for (const watcher of this.#watchers.filter((candidate) => candidate.match(text))) {
      this.#watchers.splice(this.#watchers.indexOf(watcher), 1);
      watcher.resolve(text);
    }
  }
}

type Chunk = Record<string, unknown>;

function chunksOf(args: Record<string, unknown>): Chunk[] {
  const chunks = Array.isArray(args.chunks) ? (args.chunks as Chunk[]) : [];
  return typeof args.markdown_text === "string" && args.markdown_text !== "" ? [{ type: "markdown_text", text: args.markdown_text }, ...chunks] : chunks;
}

/** A chunk as the user reads it: a task card's title, status, code and result; or streamed text. */
function chunkText(chunk: Chunk): string {
  if (chunk.type === "markdown_text") return render(String(chunk.text ?? ""));
  if (chunk.type === "task_update") return [`${String(chunk.title ?? "")} (${String(chunk.status ?? "")})`, chunk.details, chunk.output].filter((part) => typeof part === "string" && part !== "").join("\n");
  return "";
}

/** Mentions as a Slack client shows them: `<@U0ADA>` reads "@ada". */
function render(text: string): string {
  return text.replace(/<@([A-Z0-9]+)(\|[^>]*)?>/g, (_, id: string) => `@${memberNames[id] ?? id}`);
}

const codeFile = /^cell-(\d+)\.py$/;
const outputFile = /^cell-(\d+)-output\.txt$/;

/** The reply from the thread's messages and uploads since the question: text, cells (cards or code messages, whole from their files), files. */
function seenReply(slack: SlackServer, thread: string, firstMessage: number, uploadsBefore: Set<string>): SeenReply {
  const messages = slack.messages.slice(firstMessage).filter((message) => message.channel === channel && message.threadTs === thread);
  const texts: string[] = [];
  let cells: SeenCell[] = [];
  const codeMessages = messages.filter((message) => /^The code of \d+ cells?$/.test(message.text));
  for (const message of messages) {
    if (codeMessages.includes(message)) continue;
    if (message.streaming !== "no") {
      texts.push(message.chunks.filter((chunk) => chunk.type === "markdown_text").map((chunk) => String(chunk.text)).join(""));
      cells = cardCells(message);
      continue;
    }
    const markdown = blocksOf(message).filter((block) => block.type === "markdown").map((block) => String(block.text ?? ""));
    texts.push(markdown.length > 0 ? markdown.join("") : message.text);
  }
  if (codeMessages.length > 0) cells = sectionCells(codeMessages.flatMap(blocksOf));
  const files: SeenFile[] = [];
  for (const upload of slack.filesIn(channel, thread)) {
    if (uploadsBefore.has(upload.id)) continue;
    const code = codeFile.exec(upload.name);
    const output = outputFile.exec(upload.name);
    if (code !== null && cells[Number(code[1]) - 1] !== undefined) cells[Number(code[1]) - 1]!.code = upload.data.toString("utf8");
    else if (output !== null && cells[Number(output[1]) - 1] !== undefined) cells[Number(output[1]) - 1]!.output = upload.data.toString("utf8");
    else if (upload.name === "answer.md") texts.push(upload.data.toString("utf8"));
    else files.push({ name: upload.name, data: upload.data });
  }
  return { text: render(texts.filter((text) => text !== "").join("\n\n")), cells, files };
}

function blocksOf(message: SlackMessage): Chunk[] {
  return message.blocks.filter((block): block is Chunk => typeof block === "object" && block !== null);
}

/** Cells from a streamed message's task cards: the latest code and result each card showed. */
function cardCells(message: SlackMessage): SeenCell[] {
  const cards = new Map<number, SeenCell>();
  for (const chunk of message.chunks) {
    const index = /^cell-(\d+)$/.exec(String(chunk.id ?? ""));
    if (chunk.type !== "task_update" || index === null) continue;
    const cell = cards.get(Number(index[1])) ?? { code: "", output: "" };
    if (typeof chunk.details === "string" && chunk.details !== "") cell.code = unfence(chunk.details);
    if (typeof chunk.output === "string" && chunk.output !== "") cell.output = chunk.output === "(no output)" ? "" : chunk.output;
    cards.set(Number(index[1]), cell);
  }
  return [...cards.entries()].sort(([left], [right]) => left - right).map(([, cell]) => cell);
}

/** Cells from the code messages: a title section, the code fenced, then the output fenced when there is any. */
function sectionCells(blocks: Chunk[]): SeenCell[] {
  const cells: SeenCell[] = [];
  for (const block of blocks) {
    const text = String((block.text as { text?: unknown } | undefined)?.text ?? "");
    if (text.startsWith("*Cell ")) cells.push({ code: "", output: "" });
    else if (cells.length > 0 && cells.at(-1)!.code === "") cells.at(-1)!.code = unfence(text);
    else if (cells.length > 0) cells.at(-1)!.output = unfence(text);
  }
  return cells;
}

function unfence(text: string): string {
  return text.replace(/^```[a-z]*\n/, "").replace(/\n```$/, "").replaceAll("`\u200b``", "```");
}
