/**
 * The CLI as scripts use it: the real `node src/main.ts` in a child process,
 * with its model pointed at the scripted emulator and a real Docker sandbox.
 * The terminal chat's own bookkeeping is also run in-process, against an
 * agent that plays scripted replies.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { runChatTerminal } from "../src/adapters/cli/chat-terminal.ts";
import type { CliContext } from "../src/adapters/cli/cli-context.ts";
import type { Reply, Turn } from "../src/core/turn.ts";
import { codeStep, delayStep, invalidApiKeyError, proposeCall, startOpenAIServer, textStep, type OpenAIServer } from "./emulators/openai-server.ts";
import { userTexts } from "./support/recorded-requests.ts";
import { recordedTurns } from "./support/recorded-turns.ts";
import { instanceContainers, removeInstance, testInstance } from "./support/sandbox.ts";

const repository = fileURLToPath(new URL("..", import.meta.url));
const apiKey = "sk-test-cli-0123456789";
const instance = testInstance();
let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), "threadbook-cli-"));
});

after(async () => {
  await removeInstance(instance);
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  input?: string;
  /** The directory the user runs it from; the repository when unset. */
  cwd?: string;
  env?: Record<string, string>;
  /** Called with each piece of stderr; may signal the child. */
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
}

async function emulatorFor(t: TestContext): Promise<OpenAIServer> {
  const emulator = await startOpenAIServer({ apiKey });
  // A step scripted but never played fails the test that left it, as an unexpected call does.
  t.after(async () => {
    await emulator.stop();
    emulator.assertDone();
  });
  return emulator;
}

function threadbook(emulator: OpenAIServer | undefined, args: string[], options: RunOptions = {}): Promise<Run> {
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? root,
    OPENAI_API_KEY: apiKey,
    OPENAI_BASE_URL: emulator?.baseURL ?? "http://127.0.0.1:9/v1",
    THREADBOOK_MODEL: "gpt-test",
    THREADBOOK_MODEL_MAX_RETRIES: "0",
    THREADBOOK_DATA_DIR: join(root, "data"),
    THREADBOOK_INSTANCE: instance,
    THREADBOOK_SANDBOX_POOL_SIZE: "1",
    THREADBOOK_SANDBOX_MEMORY_MB: "384",
    THREADBOOK_CELL_TIMEOUT_S: "10",
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
    ...options.env,
  };
  return spawnRun(process.execPath, [join(repository, "src", "main.ts"), ...args], options.cwd ?? repository, env, options);
}

/** Runs a command to its end without blocking this process, where the emulator answers. */
function spawnRun(command: string, args: string[], cwd: string, env: Record<string, string>, options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr, child);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function parseJson(run: Run): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    assert.fail(`stdout is not JSON (exit ${run.code}):\n${run.stdout}\n--- stderr:\n${run.stderr}`);
  }
}

/**
 * An instance and data directory of the test's own, so what is left after it
 * is only its doing, and it passes alone or in any order.
 */
function isolated(t: TestContext): { instance: string; dataDir: string; env: Record<string, string> } {
  const own = { instance: testInstance(), dataDir: join(root, `data-${testInstance()}`) };
  t.after(() => removeInstance(own.instance));
  return { ...own, env: { THREADBOOK_INSTANCE: own.instance, THREADBOOK_DATA_DIR: own.dataDir } };
}

/** A directory of the user's, apart from the project, to run threadbook from. */
function userDirectory(): string {
  return mkdtempSync(join(root, "user-"));
}

async function runningContainers(instance: string): Promise<string[]> {
  return (await instanceContainers(instance)).filter((info) => info.State === "running").map((info) => info.Names[0] ?? info.Id);
}

test("ask --json: a one-cell answer as clean JSON, progress on stderr, the session removed", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  emulator.script([codeStep("print('checking')\n6 * 7"), textStep("It is 42.")]);
  const run = await threadbook(emulator, ["ask", "What is six times seven?", "--json"], { env: own.env });
  emulator.assertDone();
  assert.equal(run.code, 0, run.stderr);
  const reply = parseJson(run);
  assert.deepEqual(Object.keys(reply), ["text", "cells", "files", "filesOmitted", "limit", "error", "stoppedBy", "conversation", "proposedSkills"]);
  assert.equal(reply["text"], "It is 42.");
  assert.equal(reply["limit"], null);
  assert.equal(reply["error"], null);
  assert.deepEqual(reply["files"], []);
  const cells = reply["cells"] as Record<string, unknown>[];
  assert.equal(cells.length, 1);
  assert.deepEqual(Object.keys(cells[0] ?? {}), ["code", "stdout", "stderr", "value", "error", "durationMs"]);
  assert.deepEqual({ ...cells[0], durationMs: 0 }, { code: "print('checking')\n6 * 7", stdout: "checking\n", stderr: "", value: "42", error: null, durationMs: 0 });
  assert.equal(typeof cells[0]?.["durationMs"], "number");
  assert.match(run.stderr, /▶ cell 1: print\('checking'\)  \(\+1 line\)/);
  assert.match(run.stderr, /✓ .*: = 42, 1 line of output/);
  assert.doesNotMatch(run.stderr, /"level"/, "logs go to the log file, not the terminal");
  assert.deepEqual(await instanceContainers(own.instance), [], "an unnamed conversation's session is removed");
});

test("ask: an attached CSV, files written with --out, and the conversation continued by a new process", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  const csv = join(root, "orders.csv");
  writeFileSync(csv, "region,amount\nnorth,10\nsouth,32\n");
  const out = join(root, "out");
  emulator.script([
    codeStep("import pandas as pd\norders = pd.read_csv('orders.csv')\norders.groupby('region').sum().to_csv('by-region.csv')\norders['amount'].sum()"),
    textStep("Total 42; by region in by-region.csv."),
    codeStep("orders['amount'].max()"),
    textStep("The largest is 32."),
  ]);
  const first = await threadbook(emulator, ["ask", "Total amount?", "--file", csv, "--conversation", "orders", "--out", out, "--json"], { env: own.env });
  assert.equal(first.code, 0, first.stderr);
  const firstReply = parseJson(first);
  assert.equal((firstReply["cells"] as { value: string }[])[0]?.value, "42");
  assert.equal(firstReply["conversation"], "orders");
  const path = join(out, "by-region.csv");
  assert.deepEqual(firstReply["files"], [{ name: "by-region.csv", bytes: 32, image: false, mediaType: "text/csv", path }]);
  assert.equal(readFileSync(path, "utf8"), "region,amount\nnorth,10\nsouth,32\n");
  assert.match(userTexts(emulator.requests[0]!)[0] ?? "", /orders\.csv: 32 B, csv/);

  const second = await threadbook(emulator, ["ask", "And the largest?", "--conversation", "orders", "--json"], { env: own.env });
  emulator.assertDone();
  assert.equal(second.code, 0, second.stderr);
  const secondReply = parseJson(second);
  assert.equal((secondReply["cells"] as { value: string }[])[0]?.value, "32", "variables survive the process");
  assert.equal(secondReply["text"], "The largest is 32.");
  assert.deepEqual(userTexts(emulator.requests[2]!).slice(1), ["And the largest?"]);
  assert.equal((await instanceContainers(own.instance)).length, 1, "a named conversation keeps its session");
});

test("ask: a model failure is said plainly, with exit code 1", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  emulator.script([invalidApiKeyError()]);
  const run = await threadbook(emulator, ["ask", "Anything?", "--json"], { env: own.env });
  emulator.assertDone();
  assert.equal(run.code, 1);
  const reply = parseJson(run);
  assert.equal(reply["error"], "The model service rejected the API key (401). Check OPENAI_API_KEY.");
  assert.match(run.stderr, /^threadbook: The model service rejected the API key \(401\)\. Check OPENAI_API_KEY\.$/m);
});

test("ask without --json prints the cells and the answer for people", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  emulator.script([codeStep("import matplotlib.pyplot as plt\nplt.plot([1, 2])"), textStep("Here is the line.")]);
  const run = await threadbook(emulator, ["ask", "Draw a line."], { env: own.env });
  emulator.assertDone();
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^── cell 1 \([\d.]+ m?s\) ──\nimport matplotlib\.pyplot as plt\nplt\.plot\(\[1, 2\]\)\n── output ──\n\[<matplotlib/);
  assert.match(run.stdout, /\n\nHere is the line\.\n\nFiles \(use --out DIR to save them\):\n  figure-1\.png \([\d.]+ kB\)\n$/);
});

test("ask: a skill the model proposes is shown with how to approve it, approved with the CLI, then imported by a new conversation", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  const source = "def doubled(value):\n    return value * 2\n";
  emulator.script([
    codeStep(source + "doubled(21)"),
    codeStep(proposeCall({ name: "Doubler!", description: "Doubles a number.", instructions: "Call `doubled(value)`.", files: [{ path: "scripts/doubler.py", content: source }] })),
    codeStep(proposeCall({ name: "doubler", description: "Doubles a number; use it when a value needs doubling.", instructions: "Call `doubled(value)`.", files: [{ path: "scripts/doubler.py", content: source }] })),
    textStep("It doubles to 42; I proposed the helper as a skill."),
    codeStep("from skills.doubler import doubled\ndoubled(50)"),
    textStep("100."),
  ]);
  const proposed = await threadbook(emulator, ["ask", "Double 21 and keep the helper."], { env: own.env });
  assert.equal(proposed.code, 0, proposed.stderr);
  assert.match(proposed.stdout, /Proposed skill `doubler`: waiting for approval\.\n\nTo review and approve:\n  threadbook skills show doubler +then: threadbook skills approve doubler\n$/);
  // Progress on stderr: the refused proposal, then the stored one.
  assert.match(proposed.stderr, /▶ proposing the skill Doubler!\n  ✗ refused: The skill name "Doubler!" is not valid[^\n]*\n/);
  assert.match(proposed.stderr, /▶ proposing the skill doubler\n  ✓ version 1, waiting for approval\n/);

  const approved = await threadbook(undefined, ["skills", "approve", "doubler"], { env: own.env });
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /Approved doubler \(global, version 1\)/);

  const used = await threadbook(emulator, ["ask", "Double 50 with the skill.", "--json"], { env: own.env });
  assert.equal(used.code, 0, used.stderr);
  const reply = parseJson(used);
  assert.equal((reply["cells"] as { value: string; error: string | null }[])[0]?.error, null);
  assert.equal((reply["cells"] as { value: string }[])[0]?.value, "100");
  assert.deepEqual(reply["proposedSkills"], []);
});

test("bad usage and bad settings stop before anything starts, with exit code 2", async () => {
  const missingQuestion = await threadbook(undefined, ["ask"]);
  assert.equal(missingQuestion.code, 2);
  assert.equal(missingQuestion.stdout, "");
  assert.match(missingQuestion.stderr, /^threadbook: Missing the question: threadbook ask "<question>"\.\nRun 'threadbook ask --help' for usage\.\n$/);

  const unknownOption = await threadbook(undefined, ["ask", "hi", "--jsn"]);
  assert.equal(unknownOption.code, 2);
  assert.match(unknownOption.stderr, /^threadbook: Unknown option '--jsn'\.\n/);

  const missingFile = await threadbook(undefined, ["ask", "hi", "--file", join(root, "nope.csv")]);
  assert.equal(missingFile.code, 2);
  assert.match(missingFile.stderr, /^threadbook: Cannot read .*nope\.csv: no such file\.\n/);

  const unknownCommand = await threadbook(undefined, ["frobnicate"]);
  assert.equal(unknownCommand.code, 2);
  assert.match(unknownCommand.stderr, /Unknown command "frobnicate"/);

  const badSettings = await threadbook(undefined, ["ask", "hi"], {
    env: {
      THREADBOOK_MODEL_API: "soap",
      THREADBOOK_CELL_TIMEOUT_S: "abc",
      THREADBOOK_TURN_MAX_STEPS: "1.5",
      THREADBOOK_SANDBOX_MEMORY_MB: "-5",
      THREADBOOK_TURN_MAX_STEP: "2",
    },
  });
  assert.equal(badSettings.code, 2);
  assert.equal(badSettings.stdout, "");
  assert.equal(
    badSettings.stderr,
    "threadbook: warning: THREADBOOK_TURN_MAX_STEP is not a threadbook setting, so it is ignored; did you mean THREADBOOK_TURN_MAX_STEPS?\n" +
      "threadbook: the settings are not valid:\n" +
      "  - THREADBOOK_MODEL_API: must be 'responses' or 'chat' (got soap)\n" +
      "  - THREADBOOK_CELL_TIMEOUT_S: must be a number of seconds above 0 and at most 3600 (got abc)\n" +
      "  - THREADBOOK_TURN_MAX_STEPS: must be a whole number from 0 to 200 (got 1.5)\n" +
      "  - THREADBOOK_SANDBOX_MEMORY_MB: must be a whole number from 64 to 65536 (got -5)\n",
  );
});

test("a missing OPENAI_API_KEY is a settings error: exit code 2, before Docker starts", async (t) => {
  const own = isolated(t);
  const run = await threadbook(undefined, ["ask", "hi"], { env: { ...own.env, OPENAI_API_KEY: "", OPENAI_BASE_URL: "https://api.example.com/v1" } });
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr, "threadbook: OPENAI_API_KEY is not set. Set it, or point OPENAI_BASE_URL at a local server that needs no key.\n");
});

test("an unknown THREADBOOK_SANDBOX_RUNTIME is a settings error naming the runtimes Docker offers", async (t) => {
  const own = isolated(t);
  const run = await threadbook(undefined, ["ask", "hi"], { env: { ...own.env, THREADBOOK_SANDBOX_RUNTIME: "nosuchrt" } });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /^threadbook: the settings are not valid:\n {2}- THREADBOOK_SANDBOX_RUNTIME: Docker has no runtime named nosuchrt; it offers (.*\b)?runc\b/);
  assert.deepEqual(await instanceContainers(own.instance), [], "no container was started");
});

test("a failure whose details are in the log names the log file", async (t) => {
  // Docker refuses a container with more CPUs than the machine has.
  if (availableParallelism() >= 64) return t.skip("this machine has 64 CPUs or more");
  const own = isolated(t);
  const run = await threadbook(undefined, ["ask", "hi", "--json"], { env: { ...own.env, THREADBOOK_SANDBOX_CPUS: "64" } });
  assert.equal(run.code, 1, run.stderr);
  const logPath = join(own.dataDir, "threadbook.log");
  const message = `Starting a Python session failed. The details are in the log (${logPath}).`;
  assert.equal(parseJson(run)["error"], message);
  assert.match(run.stderr, new RegExp(`^threadbook: ${escapeRegExp(message)}$`, "m"));
  assert.match(readFileSync(logPath, "utf8"), /Range of CPUs/, "the log holds the cause");
});

test("--version and -V print the version in package.json", async () => {
  const { version } = JSON.parse(readFileSync(join(repository, "package.json"), "utf8")) as { version: string };
  for (const flag of ["--version", "-V"]) {
    const run = await threadbook(undefined, [flag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `threadbook ${version}\n`);
  }
});

test("--help says what each command does", async () => {
  const main = await threadbook(undefined, ["--help"]);
  assert.equal(main.code, 0);
  assert.match(main.stdout, /threadbook ask "<question>"/);
  assert.match(main.stdout, /THREADBOOK_TURN_MAX_CELLS/);
  for (const setting of ["THREADBOOK_MAX_SESSIONS", "THREADBOOK_MAX_TURNS", "THREADBOOK_MAX_CELLS", "THREADBOOK_MAX_QUEUED", "THREADBOOK_USER_MAX_TURNS", "THREADBOOK_USER_TURNS_PER_HOUR"]) {
    assert.match(main.stdout, new RegExp(`\\n {2}${setting} `), `--help lists ${setting}`);
  }
  assert.match(main.stdout, /130 Ctrl-C/);
  assert.match(main.stdout, /-V, --version/);
  const ask = await threadbook(undefined, ["ask", "--help"]);
  assert.equal(ask.code, 0);
  assert.match(ask.stdout, /--conversation KEY/);
  const chat = await threadbook(undefined, ["help", "chat"]);
  assert.equal(chat.code, 0);
  assert.match(chat.stdout, /--jsonl/);
});

test("chat --jsonl: one JSON reply per line, in order, a bad line answered with its error, files relative to the user's directory", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  const here = userDirectory();
  writeFileSync(join(here, "notes.txt"), "seven\n");
  emulator.script([
    codeStep("x = 41"),
    textStep("Set."),
    codeStep("open('notes.txt').read().strip(), x + 1"),
    textStep("seven and 42"),
  ]);
  const input = [
    "Set x to 41.",
    "{not json",
    JSON.stringify({ text: "Read it.", files: ["missing.txt"] }),
    JSON.stringify({ text: "Read the note and add one.", files: ["notes.txt"] }),
    "",
  ].join("\n");
  const run = await threadbook(emulator, ["chat", "--jsonl"], { input, cwd: here, env: own.env });
  emulator.assertDone();
  assert.equal(run.code, 0, run.stderr);
  const replies = run.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(replies.length, 4);
  assert.equal(replies[0]?.["text"], "Set.");
  assert.match(String(replies[1]?.["error"]), /^Line 2: not valid JSON/);
  assert.equal(replies[2]?.["error"], "Line 3: Cannot read missing.txt: no such file.");
  assert.equal(replies[3]?.["text"], "seven and 42");
  assert.equal((replies[3]?.["cells"] as { value: string }[])[0]?.value, "('seven', 42)");
  assert.deepEqual(await instanceContainers(own.instance), [], "the warm pool and the unnamed conversation's session are removed on exit");
});

test("chat reads plain lines from a pipe, with /file relative to the user's directory, and prints replies for people", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  const here = userDirectory();
  writeFileSync(join(here, "numbers.csv"), "n\n1\n2\n");
  emulator.script([codeStep("import pandas as pd\npd.read_csv('numbers.csv')['n'].sum()"), textStep("The sum is 3.")]);
  const run = await threadbook(emulator, ["chat"], { input: "/file numbers.csv\nSum the numbers.\n/exit\n", cwd: here, env: own.env });
  emulator.assertDone();
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /· numbers\.csv \(6 B\) goes with your next message/);
  assert.match(run.stdout, /── output ──\n3\n\nThe sum is 3\.\n/);
});

const interruptedTurn = "The turn was stopped because threadbook is shutting down.";

test("SIGINT during a turn stops the process cleanly: no container left running, the turn recorded as failed", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  // Signalled once the model call has reached the emulator and the child is known, whichever comes last:
  // "thinking" on stderr comes before the call, and a signal then would leave the step unplayed.
  let child: ReturnType<typeof spawn> | undefined;
  let modelCalled = false;
  let signalled = false;
  const signalDuringTurn = () => {
    if (signalled || !modelCalled || child === undefined) return;
    signalled = true;
    child.kill("SIGINT");
  };
  emulator.script([() => {
    modelCalled = true;
    signalDuringTurn();
    return delayStep(20_000);
  }]);
  const started = performance.now();
  const run = await threadbook(emulator, ["ask", "Take your time."], {
    env: own.env,
    onStderr: (_text, spawned) => {
      child = spawned;
      signalDuringTurn();
    },
  });
  assert.ok(signalled, run.stderr);
  assert.equal(run.code, 130, run.stderr);
  assert.match(run.stderr, /threadbook: stopping…/);
  assert.doesNotMatch(run.stderr, /could not remove the session/);
  assert.ok(performance.now() - started < 15_000);
  assert.deepEqual(await runningContainers(own.instance), [], "the unnamed conversation's session is removed");
  assert.deepEqual(recordedTurns(own.dataDir).map((turn) => [turn.status, turn.error]), [["failed", interruptedTurn]]);
});

test("SIGTERM while a cell runs in chat ends the cell at once and removes its session", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  // Nothing after the cell: a turn that went on to ask the model again would be a fault.
  emulator.script([codeStep("import time\ntime.sleep(60)")]);
  let signalled = false;
  const started = performance.now();
  const run = await threadbook(emulator, ["chat"], {
    input: "Wait a minute.\n",
    env: own.env,
    onStderr: (text, child) => {
      if (!signalled && text.includes("▶ cell 1")) {
        signalled = true;
        child.kill("SIGTERM");
      }
    },
  });
  emulator.assertDone();
  assert.ok(signalled, run.stderr);
  assert.equal(run.code, 143, run.stderr);
  assert.ok(performance.now() - started < 20_000, "the 60 s cell was not waited for");
  assert.deepEqual(await runningContainers(own.instance), [], "neither the session nor a warm container is left running");
  assert.deepEqual(recordedTurns(own.dataDir).map((turn) => [turn.status, turn.error]), [["failed", interruptedTurn]]);
});

/** Node 24 first on PATH, as the launcher's own setup would find it. */
const nodePath = `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}`;

/** Runs a command as a user would from `cwd`, with the test's settings in the environment. */
function runFrom(cwd: string, command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return spawnRun(command, args, cwd, { HOME: process.env["HOME"] ?? root, ...env, PATH: nodePath });
}

test("./threadbook and npm run threadbook work from the user's directory: --file and --out are relative to it", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  const here = userDirectory();
  writeFileSync(join(here, "prices.csv"), "price\n3\n4\n");
  const env = {
    OPENAI_API_KEY: apiKey,
    OPENAI_BASE_URL: emulator.baseURL,
    THREADBOOK_MODEL: "gpt-test",
    THREADBOOK_MODEL_MAX_RETRIES: "0",
    THREADBOOK_SANDBOX_MEMORY_MB: "384",
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
    ...own.env,
  };
  const launchers: [string, string, string[]][] = [
    ["./threadbook", "bash", [join(repository, "threadbook")]],
    ["npm run threadbook", "npm", ["run", "--prefix", repository, "-s", "threadbook", "--"]],
  ];
  for (const [launcher, command, prefix] of launchers) {
    emulator.script([codeStep("import pandas as pd\nprices = pd.read_csv('prices.csv')\nprices.describe().to_csv('summary.csv')\nprices['price'].sum()"), textStep("7 in all.")]);
    const run = await runFrom(here, command, [...prefix, "ask", "Total?", "--file", "prices.csv", "--out", "./myout", "--json"], env);
    emulator.assertDone();
    assert.equal(run.code, 0, `${launcher}: ${run.stderr}`);
    const reply = parseJson(run);
    assert.equal((reply["cells"] as { value: string }[])[0]?.value, "7", launcher);
    const path = join(here, "myout", "summary.csv");
    assert.deepEqual((reply["files"] as { path: string }[]).map((file) => file.path), [path], launcher);
    assert.ok(existsSync(path), launcher);
    assert.ok(!existsSync(join(repository, "myout")), `${launcher} wrote nothing into the project`);
    rmSync(join(here, "myout"), { recursive: true });
  }
});

test("./threadbook and npm run threadbook read the project's .env and keep the user's directory", async () => {
  const project = mkdtempSync(join(root, "project-"));
  for (const file of ["threadbook", "package.json", "scripts/main.sh", "scripts/node-env.sh", "scripts/setup.sh"]) {
    mkdirSync(dirname(join(project, file)), { recursive: true });
    copyFileSync(join(repository, file), join(project, file));
  }
  // Dependencies count as installed: setup.sh installs them only when the lock file is newer.
  writeFileSync(join(project, "package-lock.json"), "{}");
  mkdirSync(join(project, "node_modules"));
  writeFileSync(join(project, "node_modules", ".package-lock.json"), "{}");
  mkdirSync(join(project, "src"));
  // Stands in for src/main.ts: shows where it runs and what it was given.
  writeFileSync(join(project, "src", "main.ts"), "process.stdout.write(JSON.stringify({ cwd: process.cwd(), fromFile: process.env.TB_FROM_FILE ?? null, both: process.env.TB_BOTH ?? null, args: process.argv.slice(2) }));\n");
  writeFileSync(join(project, ".env"), "TB_FROM_FILE=file\nTB_BOTH=file\n");
  const here = userDirectory();
  const expected = { cwd: here, fromFile: "file", both: "environment", args: ["ask", "hi"] };
  const launcher = await runFrom(here, "bash", [join(project, "threadbook"), "ask", "hi"], { TB_BOTH: "environment" });
  assert.equal(launcher.code, 0, launcher.stderr);
  assert.deepEqual(JSON.parse(launcher.stdout), expected);
  const npm = await runFrom(here, "npm", ["run", "--prefix", project, "-s", "threadbook", "--", "ask", "hi"], { TB_BOTH: "environment" });
  assert.equal(npm.code, 0, npm.stderr);
  assert.deepEqual(JSON.parse(npm.stdout), expected);
});

test("--out never overwrites a file: the new one takes a free name, said on stderr and in the JSON path; an unknown setting is warned about", async (t) => {
  const emulator = await emulatorFor(t);
  const own = isolated(t);
  const here = userDirectory();
  mkdirSync(join(here, "answers"));
  writeFileSync(join(here, "answers", "result.csv"), "old\n");
  emulator.script([codeStep("open('result.csv', 'w').write('new\\n')"), textStep("Written.")]);
  const run = await threadbook(emulator, ["ask", "Write it.", "--out", "answers", "--json"], { cwd: here, env: { ...own.env, THREADBOOK_TURN_MAX_STEP: "2" } });
  emulator.assertDone();
  assert.equal(run.code, 0, run.stderr);
  const renamed = join(here, "answers", "result-2.csv");
  assert.deepEqual(parseJson(run)["files"], [{ name: "result.csv", bytes: 4, image: false, mediaType: "text/csv", path: renamed }]);
  assert.equal(readFileSync(join(here, "answers", "result.csv"), "utf8"), "old\n", "the earlier file is untouched");
  assert.equal(readFileSync(renamed, "utf8"), "new\n");
  assert.match(run.stderr, new RegExp(`^· ${escapeRegExp(join(here, "answers", "result.csv"))} already exists, so this one went to ${escapeRegExp(renamed)}$`, "m"));
  assert.match(run.stderr, /^threadbook: warning: THREADBOOK_TURN_MAX_STEP is not a threadbook setting, so it is ignored; did you mean THREADBOOK_TURN_MAX_STEPS\?$/m);
});

test("npx threadbook (bin/threadbook.js) reads the project's .env, the environment winning", () => {
  const project = mkdtempSync(join(root, "project-"));
  mkdirSync(join(project, "bin"));
  mkdirSync(join(project, "src"));
  copyFileSync(join(repository, "bin", "threadbook.js"), join(project, "bin", "threadbook.js"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module" }));
  // Stands in for src/main.ts: shows what it was given.
  writeFileSync(join(project, "src", "main.ts"), "process.stdout.write(JSON.stringify({ fromFile: process.env.TB_FROM_FILE ?? null, both: process.env.TB_BOTH ?? null, args: process.argv.slice(2) }));\n");
  const run = (env: Record<string, string>) => {
    const result = spawnSync(process.execPath, [join(project, "bin", "threadbook.js"), "ask", "hi"], { cwd: root, env: { PATH: process.env["PATH"] ?? "", ...env }, encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as unknown;
  };
  assert.deepEqual(run({ TB_BOTH: "environment" }), { fromFile: null, both: "environment", args: ["ask", "hi"] }, "no .env is fine");
  writeFileSync(join(project, ".env"), "TB_FROM_FILE=file\nTB_BOTH=file\n");
  assert.deepEqual(run({ TB_BOTH: "environment" }), { fromFile: "file", both: "environment", args: ["ask", "hi"] });
});

test("chat keeps /file attachments a failed turn never put in the session for the next message, and says so", async () => {
  const path = join(root, "kept.csv");
  writeFileSync(path, "n\n1\n");
  const turns: Turn[] = [];
  const replies: Reply[] = [
    scriptedReply({ error: "Docker is not running or cannot be reached, so code cannot run.", attachmentsNotPlaced: ["kept.csv"] }),
    scriptedReply({ text: "It has one row." }),
    scriptedReply({ text: "Nothing attached." }),
  ];
  const closers: (() => Promise<void>)[] = [];
  let stderr = "";
  let stdout = "";
  const context: CliContext = {
    agent: {
      handle: async (turn) => {
        turns.push(turn);
        const reply = replies.shift();
        assert.ok(reply, `unexpected turn ${JSON.stringify(turn.text)}`);
        return reply;
      },
      stop: () => assert.fail("no Ctrl-C was pressed"),
      reset: () => assert.fail("no /reset was typed"),
      end: () => assert.fail("the conversation ends on close, not before"),
    },
    user: { platform: "cli", id: "test", workspace: null, displayName: "test" },
    input: Readable.from([`/file ${path}\nHow many rows?\nAnd now?\nAgain?\n`]),
    writeOut: async (text) => { stdout += text; },
    writeError: (text) => { stderr += text; },
    promptOutput: new PassThrough(),
    interrupt: () => assert.fail("nothing interrupts"),
    onClose: (work) => void closers.push(work),
    logPath: undefined,
  };
  assert.equal(await runChatTerminal({ jsonl: false, conversation: undefined, out: undefined }, context), 0);
  assert.deepEqual(replies, [], "every scripted reply was used");
  assert.deepEqual(turns.map((turn) => [turn.text, turn.attachments.map((attachment) => attachment.name)]), [
    ["How many rows?", ["kept.csv"]],
    ["And now?", ["kept.csv"]],
    ["Again?", []],
  ]);
  assert.match(stderr, /^threadbook: Docker is not running or cannot be reached, so code cannot run\.\n· kept\.csv did not reach the session, so it goes with your next message \(\/reset drops it\)\n/m);
  assert.equal(stderr.match(/did not reach the session/g)?.length, 1);
  assert.match(stdout, /It has one row\./);
  assert.equal(closers.length, 1, "the unnamed conversation is ended when the process stops");
});

function scriptedReply(fields: Partial<Reply>): Reply {
  return { text: "", cells: [], files: [], limit: null, error: null, filesOmitted: [], attachmentsNotPlaced: [], proposedSkills: [], stoppedBy: null, turnId: null, ...fields };
}
