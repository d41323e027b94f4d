/**
 * One contract for every adapter, as hono runs one suite against every
 * router: what a user of any platform (the CLI, Slack, Discord) can rely on.
 * Each platform's test file calls `adapterContract(name, createDriver)` with
 * a driver that acts as a user on that platform and reads back what the user
 * sees; the contract then runs against the real agent, a real Docker sandbox
 * and SQLite, with the model played by the scripted OpenAI emulator.
 *
 * The contract: the reply is rendered whole (the answer, each cell's code and
 * output, every file the code made with its bytes intact); progress shows
 * while a turn runs; a failing turn is said plainly; Stop stops a turn
 * mid-cell and the conversation keeps its variables; reset forgets them.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { codeStep, serverError, startOpenAIServer, textStep, type OpenAIServer } from "./emulators/openai-server.ts";
import { userTexts } from "./support/recorded-requests.ts";

/** A file the user attaches to a message. */
export interface SentFile {
  name: string;
  data: Buffer;
}

/** One cell of a reply as the user sees it. */
export interface SeenCell {
  /** The code as shown (a code block, or a file when long), without the platform's fences. */
  code: string;
  /** Everything shown as the cell's output (stdout, stderr, the last value, a traceback), joined. */
  output: string;
}

/** A file of a reply as the user gets it: what a download gives. */
export interface SeenFile {
  name: string;
  data: Buffer;
}

/** The whole reply as the user reads it, once the turn has ended. */
export interface SeenReply {
  /**
   * Every piece of text of the reply outside its cells: the answer, notes
   * (a turn stopped, a limit), an error message. The platform's markup may stay in.
   */
  text: string;
  /** The cells shown, in the order they ran. */
  cells: SeenCell[];
  /** Every file of the reply (uploads, inline images), in any order. */
  files: SeenFile[];
}

/** A message the driver has sent, whose turn may still run. */
export interface AskedTurn {
  /**
   * Resolves with the first piece of progress the user sees that `match`
   * accepts, as soon as it shows (also when it showed already); rejects when
   * the reply arrives without one. For acting mid-turn, e.g. pressing Stop
   * once a cell is seen running.
   */
  waitForProgress(match: (text: string) => boolean): Promise<string>;
  /**
   * What the user saw while the turn ran, before the reply: each status line
   * or each version of an edited status message, in order.
   */
  progressSeen(): string[];
  /** The reply, once the turn has ended. */
  reply(): Promise<SeenReply>;
}

/**
 * What a platform's test harness implements to act as one user in one
 * conversation (a CLI chat, a Slack thread, a Discord thread) and read back
 * what that user sees: the CLI drives `threadbook chat --jsonl`; Slack reads
 * Block Kit messages, message edits and uploads from an emulated Web API;
 * Discord reads messages, edits, components and attachments from an emulated
 * REST API. The driver never reaches into the agent: it uses the platform as
 * a user does.
 */
export interface AdapterDriver {
  /** How the platform names this user when saying who stopped a turn, e.g. "you" or the display name. */
  readonly stopperName: string;
  /**
   * Sends a message (with files attached, when given) in the conversation;
   * resolves once the platform has taken it, while its turn may still run.
   */
  ask(text: string, files?: SentFile[]): Promise<AskedTurn>;
  /** Presses the platform's Stop control for the conversation's running turn; resolves once it was taken. */
  stop(): Promise<void>;
  /** Uses the platform's reset command (`/reset`); resolves once the conversation is forgotten. */
  reset(): Promise<void>;
  /**
   * Ends the conversation and the bot, leaving nothing behind (no container,
   * no process). Throws when the bot ended badly (e.g. a non-zero exit).
   */
  close(): Promise<void>;
}

/** What the contract gives a driver to start its bot with. */
export interface ContractSetup {
  /**
   * Settings to start the bot with, as environment variables: the model
   * (pointed at the emulator, no retries) and the cell time limit. The
   * driver adds its own (instance name, data directory, platform tokens).
   */
  settings: Record<string, string>;
}

/** Starts the bot on its platform, with the settings given, and a user in one new conversation. */
export type DriverFactory = (setup: ContractSetup) => Promise<AdapterDriver>;

const apiKey = "sk-test-contract-0123456789";
/** Far past the stop test's cell, so only Stop can end it; the test's timeout catches a Stop that does nothing. */
const cellTimeoutSeconds = 600;
const testOptions = { timeout: 180_000 };

/** Registers the contract's tests for one adapter. */
export function adapterContract(name: string, createDriver: DriverFactory): void {
  describe(`adapter contract: ${name}`, () => {
    test("the reply is rendered whole: the answer, each cell's code and output, every file with its bytes intact", testOptions, (t) =>
      withDriver(t, createDriver, async (driver, emulator) => {
        const first = "print('contract-stdout')\nrows = [('north', 10), ('south', 32)]";
        const binary = bytesOfEveryValue();
        const second = [
          "import matplotlib.pyplot as plt",
          "with open('table.csv', 'w') as out:",
          "    out.write('region,amount\\nnorth,10\\nsouth,32\\n')",
          "with open('blob.bin', 'wb') as out:",
          "    out.write(bytes(range(256)) * 4)",
          "plt.plot([1, 2, 3])",
          "sum(amount for _, amount in rows)",
        ].join("\n");
        emulator.script([codeStep(first), codeStep(second), textStep("The total is 42; by region in table.csv.")]);
        const reply = await (await driver.ask("What is the total by region?", [{ name: "question.txt", data: Buffer.from("north and south\n") }])).reply();
        assert.match(reply.text, /The total is 42; by region in table\.csv\./);
        assert.deepEqual(reply.cells.map((cell) => cell.code.trim()), [first, second]);
        assert.match(reply.cells[0]?.output ?? "", /contract-stdout/);
        assert.match(reply.cells[1]?.output ?? "", /\b42\b/);
        const figures = reply.files.filter((file) => file.name !== "table.csv" && file.name !== "blob.bin");
        assert.deepEqual(reply.files.map((file) => file.name).sort(), ["blob.bin", ...figures.map((file) => file.name), "table.csv"].sort());
        assert.equal(fileNamed(reply, "table.csv").data.toString("utf8"), "region,amount\nnorth,10\nsouth,32\n");
        assert.ok(fileNamed(reply, "blob.bin").data.equals(binary), "a binary file arrives byte for byte");
        assert.equal(figures.length, 1, "the figure is one file");
        assert.match(figures[0]?.name ?? "", /\.png$/);
        assert.ok(figures[0]?.data.subarray(0, 8).equals(pngSignature), "the figure arrives as a PNG");
        assert.match(userTexts(emulator.requests[0]!).join("\n"), /question\.txt/, "the attached file reached the turn");
      }));

    test("progress shows while the turn runs: the user sees a cell run before the reply", testOptions, (t) =>
      withDriver(t, createDriver, async (driver, emulator) => {
        emulator.script([codeStep("progress_marker = 6 * 7\nprogress_marker"), textStep("It is 42.")]);
        const turn = await driver.ask("What is six times seven?");
        const seen = await turn.waitForProgress((text) => text.includes("progress_marker = 6 * 7"));
        const reply = await turn.reply();
        assert.match(reply.text, /It is 42\./);
        assert.ok(turn.progressSeen().includes(seen), "the cell was shown running before the reply");
      }));

    test("a failing turn is said plainly: the model service's failure as a message, no stack trace", testOptions, (t) =>
      withDriver(t, createDriver, async (driver, emulator) => {
        emulator.script([serverError(500)]);
        const reply = await (await driver.ask("Anything?")).reply();
        assert.match(reply.text, /The model service failed \(500\); try again in a minute\./);
        assert.doesNotMatch(reply.text, /\n\s+at |\w*Error:|node_modules|\.ts:\d+/, "no stack trace reaches the user");
        assert.deepEqual(reply.cells, []);
        assert.deepEqual(reply.files, []);
      }));

    test("Stop ends a turn mid-cell, says who stopped it, and the conversation keeps its variables", testOptions, (t) =>
      withDriver(t, createDriver, async (driver, emulator) => {
        // Nothing scripted after the long cell: a turn that went on to ask the model would be a fault.
        emulator.script([codeStep("kept = 41"), codeStep("stop_marker = True\nimport time\ntime.sleep(3600)")]);
        const turn = await driver.ask("Keep 41, then wait.");
        await turn.waitForProgress((text) => text.includes("stop_marker = True"));
        await driver.stop();
        const stopped = await turn.reply();
        assert.match(stopped.text, new RegExp(`Stopped by ${escapeRegExp(driver.stopperName)}\\b`));
        assert.equal(stopped.cells[0]?.code.trim(), "kept = 41");

        emulator.script([codeStep("kept + 1"), textStep("It is 42.")]);
        const next = await (await driver.ask("What is kept + 1?")).reply();
        assert.match(next.cells[0]?.output ?? "", /\b42\b/, `variables survived the stop, whose reply said:\n${stopped.text}\n${stopped.cells.map((cell) => cell.output).join("\n")}`);
        assert.match(next.text, /It is 42\./);
      }));

    test("reset forgets the conversation: earlier variables and messages are gone", testOptions, (t) =>
      withDriver(t, createDriver, async (driver, emulator) => {
        emulator.script([codeStep("secret = 7"), textStep("Kept.")]);
        const before = await (await driver.ask("Remember seven as secret.")).reply();
        assert.match(before.text, /Kept\./);
        await driver.reset();

        emulator.script([codeStep("secret"), textStep("It is gone.")]);
        const after = await (await driver.ask("What is secret?")).reply();
        assert.match(after.cells[0]?.output ?? "", /NameError: name 'secret' is not defined/);
        const lastRequest = JSON.stringify(emulator.requests.at(-1)?.body);
        assert.doesNotMatch(lastRequest, /Remember seven as secret/, "the model no longer sees the earlier messages");
      }));
  });
}

/** Runs `body` with a fresh emulator and driver; closes both, then checks the emulator played its script and saw no fault. */
async function withDriver(t: TestContext, createDriver: DriverFactory, body: (driver: AdapterDriver, emulator: OpenAIServer) => Promise<void>): Promise<void> {
  const emulator = await startOpenAIServer({ apiKey });
  try {
    const driver = await createDriver({
      settings: {
        OPENAI_API_KEY: apiKey,
        OPENAI_BASE_URL: emulator.baseURL,
        THREADBOOK_MODEL: "gpt-test",
        THREADBOOK_MODEL_MAX_RETRIES: "0",
        THREADBOOK_CELL_TIMEOUT_S: String(cellTimeoutSeconds),
      },
    });
    try {
      // A test that times out aborts its signal: close the driver then rather than when a hung turn ends.
      await Promise.race([body(driver, emulator), aborted(t.signal)]);
    } finally {
      await driver.close();
    }
    emulator.assertDone();
  } finally {
    await emulator.stop();
  }
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function bytesOfEveryValue(): Buffer {
  const once = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
  return Buffer.concat([once, once, once, once]);
}

function fileNamed(reply: SeenReply, name: string): SeenFile {
  const file = reply.files.find((candidate) => candidate.name === name);
  assert.ok(file, `the reply has ${name}`);
  return file;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
