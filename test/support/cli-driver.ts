/**
 * The adapter contract's driver for the CLI, as scripts use it: the real
 * `node src/main.ts chat --jsonl --out DIR` in a child process, one JSON
 * request per line on its stdin, stop and reset as control lines, replies
 * read from its stdout (files from where --out wrote them) and progress from
 * its stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { AdapterDriver, AskedTurn, ContractSetup, SeenReply, SentFile } from "../adapter-contract.ts";
import { contractProcessEnv, mainScript } from "./contract-process.ts";
import { instanceContainers, removeInstance, testInstance } from "./sandbox.ts";


/**
 * How long a chat whose stdin has ended may take to finish and exit. Its
 * turns are over by then in a passing test; past this, one never ends (a
 * Stop that did nothing), so the process is stopped with SIGTERM, which ends
 * a running cell at once, rather than the test run waiting out the cell.
 */
const exitAllowanceMs = 60_000;

type Json = Record<string, unknown>;

interface Waiter {
  resolve: (json: Json) => void;
  reject: (error: Error) => void;
}

export async function startCliChatDriver(setup: ContractSetup): Promise<AdapterDriver> {
  const instance = testInstance();
  const root = mkdtempSync(join(tmpdir(), "threadbook-contract-cli-"));
  const out = join(root, "out");
  const child = spawn(process.execPath, [mainScript, "chat", "--jsonl", "--out", out], {
    cwd: root,
    env: contractProcessEnv(setup, root, instance),
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new CliChatDriver(child, root, instance);
}

class CliChatDriver implements AdapterDriver {
  readonly stopperName = "you";
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #root: string;
  readonly #instance: string;
  readonly #exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** Turns asked and not yet answered, oldest (the running one) first. */
  readonly #turns: CliTurn[] = [];
  readonly #controls: Waiter[] = [];
  readonly #unexpected: string[] = [];
  #stderr = "";
  #asked = 0;

  constructor(child: ChildProcessWithoutNullStreams, root: string, instance: string) {
    this.#child = child;
    this.#root = root;
    this.#instance = instance;
    this.#exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", (line) => this.#onStdout(line));
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on("line", (line) => {
      this.#stderr += `${line}\n`;
      this.#turns[0]?.seen(line);
    });
    void this.#exited.then(() => {
      const gone = new Error(`threadbook exited before answering:\n${this.#stderr}`);
      for (const turn of this.#turns.splice(0)) turn.answered(gone);
      for (const control of this.#controls.splice(0)) control.reject(gone);
    });
  }

  async ask(text: string, files: SentFile[] = []): Promise<AskedTurn> {
    this.#asked += 1;
    const folder = join(this.#root, `sent-${this.#asked}`);
    mkdirSync(folder);
    const paths = files.map((file) => {
      const path = join(folder, file.name);
      writeFileSync(path, file.data);
      return path;
    });
    const turn = new CliTurn();
    this.#turns.push(turn);
    await this.#send({ text, files: paths });
    return turn;
  }

  async stop(): Promise<void> {
    const answer = await this.#control("stop");
    if (answer["stopped"] !== true) throw new Error(`{"command":"stop"} stopped nothing: ${JSON.stringify(answer)}`);
  }

  async reset(): Promise<void> {
    const answer = await this.#control("reset");
    if (answer["reset"] !== true) throw new Error(`{"command":"reset"} failed: ${JSON.stringify(answer)}`);
  }

  async close(): Promise<void> {
    try {
      if (this.#turns.length > 0) {
        // A test that gave up on a turn (it timed out): stop the process and its cell now.
        this.#child.kill("SIGTERM");
        await this.#exited;
        throw new Error(`threadbook was closed with ${this.#turns.length} question(s) unanswered:\n${this.#stderr}`);
      }
      this.#child.stdin.end();
      let timer: NodeJS.Timeout | undefined;
      const overdue = new Promise<"overdue">((resolve) => { timer = setTimeout(() => resolve("overdue"), exitAllowanceMs); });
      const ended = await Promise.race([this.#exited, overdue]).finally(() => clearTimeout(timer));
      if (ended === "overdue") {
        this.#child.kill("SIGTERM");
        await this.#exited;
        throw new Error(`threadbook had not exited ${exitAllowanceMs / 1000} s after its input ended, so it was stopped:\n${this.#stderr}`);
      }
      const [code, signal] = ended;
      if (code !== 0) throw new Error(`threadbook exited with ${code ?? signal}:\n${this.#stderr}`);
      if (this.#unexpected.length > 0) throw new Error(`threadbook wrote lines nobody asked for:\n${this.#unexpected.join("\n")}`);
      const left = await instanceContainers(this.#instance);
      if (left.length > 0) throw new Error(`threadbook left ${left.length} container(s) behind`);
    } finally {
      if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
      await removeInstance(this.#instance);
      rmSync(this.#root, { recursive: true, force: true });
    }
  }

  #control(command: string): Promise<Json> {
    const answer = new Promise<Json>((resolve, reject) => this.#controls.push({ resolve, reject }));
    return this.#send({ command }).then(() => answer);
  }

  #send(json: Json): Promise<void> {
    return new Promise((resolve, reject) => this.#child.stdin.write(`${JSON.stringify(json)}\n`, (error) => (error ? reject(error) : resolve())));
  }

  /** A line with "command" answers a control line; any other line is the reply to the oldest request. */
  #onStdout(line: string): void {
    let json: Json;
    try {
      json = JSON.parse(line) as Json;
    } catch {
      this.#unexpected.push(line);
      return;
    }
    const answers = "command" in json ? this.#controls.shift()?.resolve : this.#turns.shift()?.answered;
    if (answers === undefined) this.#unexpected.push(line);
    else answers(json);
  }
}

class CliTurn implements AskedTurn {
  readonly #progress: string[] = [];
  readonly #watchers: { match: (text: string) => boolean; resolve: (text: string) => void; reject: (error: Error) => void }[] = [];
  readonly #reply: Promise<SeenReply>;
  #settle!: (json: Json | Error) => void;
  #done = false;

  constructor() {
    this.#reply = new Promise<SeenReply>((resolve, reject) => {
      this.#settle = (json) => {
        if (json instanceof Error) return reject(json);
        try {
          resolve(seenReply(json));
        } catch (error) {
          reject(error as Error);
        }
      };
    });
    // A turn whose reply nobody reads must not end the run with an unhandled rejection.
    this.#reply.catch(() => undefined);
  }

  /** A line of progress on stderr while this turn runs. */
  seen(line: string): void {
    this.#progress.push(line);
    for (const watcher of this.#watchers.filter((candidate) => candidate.match(line))) {
      this.#watchers.splice(this.#watchers.indexOf(watcher), 1);
      watcher.resolve(line);
    }
  }

  answered = (json: Json | Error): void => {
    this.#done = true;
    for (const watcher of this.#watchers.splice(0)) watcher.reject(new Error(`the turn ended without that progress; seen:\n${this.#progress.join("\n")}`));
    this.#settle(json);
  };

  waitForProgress(match: (text: string) => boolean): Promise<string> {
    const shown = this.#progress.find(match);
    if (shown !== undefined) return Promise.resolve(shown);
    if (this.#done) return Promise.reject(new Error(`the turn ended without that progress; seen:\n${this.#progress.join("\n")}`));
    return new Promise((resolve, reject) => this.#watchers.push({ match, resolve, reject }));
  }

  progressSeen(): string[] {
    return [...this.#progress];
  }

  reply(): Promise<SeenReply> {
    return this.#reply;
  }
}

/** The JSON reply as a script reads it: the answer and any error, each cell, and the files --out wrote. */
function seenReply(json: Json): SeenReply {
  const cells = (json["cells"] ?? []) as { code: string; stdout: string; stderr: string; value: string | null; error: string | null }[];
  const files = (json["files"] ?? []) as { name: string; path?: string }[];
  return {
    text: [json["text"], json["error"]].filter((part): part is string => typeof part === "string" && part !== "").join("\n\n"),
    cells: cells.map((cell) => ({ code: cell.code, output: [cell.stdout, cell.stderr, cell.value ?? "", cell.error ?? ""].filter((part) => part !== "").join("\n") })),
    files: files.map((file) => {
      if (file.path === undefined) throw new Error(`--out did not write ${file.name}`);
      return { name: file.name, data: readFileSync(file.path) };
    }),
  };
}
