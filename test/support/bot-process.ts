/**
 * The real `threadbook start` in a child process, its log (stderr) kept
 * whole for the test to read and grep, and the operator's commands
 * (`threadbook audit`, `threadbook sessions`) run as further processes with
 * the same settings, as an operator runs them beside the bot.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mainScript } from "./contract-process.ts";

/** A first start warms a container on a shared machine: generous. */
const startTimeoutMs = 120_000;
const exitTimeoutMs = 60_000;

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class BotProcess {
  readonly env: Record<string, string>;
  readonly #child: ChildProcess;
  readonly #exited: Promise<[number | null, NodeJS.Signals | null]>;
  #stderr = "";

  constructor(env: Record<string, string>, cwd: string) {
    this.env = env;
    this.#child = spawn(process.execPath, [mainScript, "start"], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    this.#exited = once(this.#child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
    this.#child.stderr?.setEncoding("utf8").on("data", (text: string) => { this.#stderr += text; });
    // Every bot a test runs is checked: whatever it logged, in any test, holds none of its secrets.
    // A leak fails the test file even where a test's clean-up swallows stop()'s error.
    void this.#exited.then(() => {
      const leaked = this.leakedSecrets();
      if (leaked.length === 0) return;
      process.exitCode = 1;
      console.error(`threadbook logged the value of ${leaked.join(", ")}`);
    });
  }

  /** The settings holding secrets whose values appear in what the bot wrote to stderr. */
  leakedSecrets(): string[] {
    return Object.entries(this.env)
      .filter(([name, value]) => /KEY|TOKEN|SECRET|PASSWORD/.test(name) && value.length >= 8 && this.#stderr.includes(value))
      .map(([name]) => name);
  }

  /** The bot's process id, e.g. to read its peak memory or to kill it. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Resolves with the exit code and signal once the process has exited. */
  exited(): Promise<[number | null, NodeJS.Signals | null]> {
    return this.#exited;
  }

  /** Everything the bot wrote to stderr so far: its log lines, and any plain message. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The JSON log lines so far, parsed; other lines left out. */
  logLines(): Record<string, unknown>[] {
    return this.#stderr.split("\n").flatMap((line) => {
      if (!line.startsWith("{")) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /** The first log line that matches, once logged; fails when the bot exits first or it takes too long. */
  async logged(matches: (line: Record<string, unknown>) => boolean, timeoutMs = startTimeoutMs): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logLines().find(matches);
      if (found !== undefined) return found;
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) throw new Error(`threadbook exited (${this.#child.exitCode ?? this.#child.signalCode}):\n${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`threadbook did not log the line looked for within ${timeoutMs / 1000} s:\n${this.#stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** `threadbook <args>` in another process, with the bot's settings. */
  run(args: string[], cwd: string): Promise<CommandResult> {
    const child = spawn(process.execPath, [mainScript, ...args], { cwd, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => { stdout += text; });
    child.stderr.setEncoding("utf8").on("data", (text: string) => { stderr += text; });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** SIGKILL, as a crash or an out-of-memory kill ends it: no chance to tidy up. Resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill("SIGKILL");
    await this.#exited;
  }

  /** SIGTERM, then waits for the exit; SIGKILL past the allowance. Resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return this.#child.exitCode;
    this.#child.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<"overdue">((resolve) => { timer = setTimeout(() => resolve("overdue"), exitTimeoutMs); });
    const ended = await Promise.race([this.#exited, overdue]).finally(() => clearTimeout(timer));
    if (ended === "overdue") {
      this.#child.kill("SIGKILL");
      throw new Error(`threadbook had not exited ${exitTimeoutMs / 1000} s after SIGTERM:\n${this.#stderr}`);
    }
    const leaked = this.leakedSecrets();
    if (leaked.length > 0) throw new Error(`threadbook logged the value of ${leaked.join(", ")}`);
    return ended[0];
  }
}
