/**
 * The agent core against a real Docker sandbox, a real SQLite store and the
 * real `openai` SDK talking to the scripted model emulator.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { pino } from "pino";
import { loadConfig, type ModelApi } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import { SESSION_LOST_NOTE, SESSION_REPLACED_NOTE } from "../src/core/session-continuity.ts";
import { SandboxError } from "../src/errors.ts";
import type { Logger } from "../src/log.ts";
import type { Attachment, Progress, ProgressEvent, Reply, TurnUser } from "../src/core/turn.ts";
import { sessionContainerName, type DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import type { Sandbox } from "../src/sandbox/sandbox.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import {
  codeStep,
  delayStep,
  invalidApiKeyError,
  modelNotFoundError,
  rateLimitError,
  serverError,
  startOpenAIServer,
  textStep,
  type OpenAIServer,
  type RecordedRequest,
  type ScriptEntry,
} from "./emulators/openai-server.ts";
import { codeCalls, imageCount, instructionsOf, toolOutputs, userTexts } from "./support/recorded-requests.ts";
import { recordedTurns } from "./support/recorded-turns.ts";
import { until } from "./support/until.ts";
import { instanceContainers, removeInstance, startTestSandbox, testInstance, testSandboxOptions } from "./support/sandbox.ts";

const apiKey = "sk-test-core-0123456789";
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-core-"));
  // Streams are bounded high here, so the core's own bound on what reaches the model is what the flooding test sees.
  sandbox = await startTestSandbox({ instance, outputBytes: 1_000_000, cellTimeoutMs: 5_000 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

interface HarnessOptions {
  env?: Record<string, string>;
  api?: ModelApi;
  modelTimeoutMs?: number;
  sandbox?: Sandbox;
  dataDir?: string;
  key?: string;
  logger?: Logger;
}

interface Harness {
  agent: Agent;
  store: SqliteStore;
  emulator: OpenAIServer;
  key: string;
  dataDir: string;
  /** Requests of this harness's turns, oldest first. */
  requests: () => readonly RecordedRequest[];
  /** Runs a turn in the harness's conversation; its progress events land in `events`. */
  ask: (text: string, attachments?: Attachment[], events?: ProgressEvent[]) => Promise<Reply>;
  script: (steps: ScriptEntry[]) => void;
}

const testUser: TurnUser = { platform: "test", id: "user", workspace: "W1", displayName: "Test User" };

const uniqueName = () => randomBytes(4).toString("hex");

async function harness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? join(dataRoot, uniqueName());
  // Variables are kept only where a test asks for it (test/kept-variables.test.ts covers them): the notes these tests read stay as they are.
  const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_CELL_TIMEOUT_S: "5", THREADBOOK_SNAPSHOT_MB: "0", ...options.env });
  const emulator = await startOpenAIServer({ apiKey });
  const store = openSqliteStore(dataDir);
  const model = createModelClient({
    ...config.model,
    apiKey,
    baseURL: emulator.baseURL,
    name: "gpt-test",
    api: options.api ?? "responses",
    maxRetries: 0,
    timeoutMs: options.modelTimeoutMs ?? 10_000,
  });
  const usedSandbox = options.sandbox ?? sandbox;
  const agent = new Agent({ model, sandbox: usedSandbox, store, settings: config, logger: options.logger });
  const key = options.key ?? `test:${uniqueName()}`;
  // A step scripted but never played fails the test that left it, as an unexpected call does.
  t.after(async () => {
    await agent.idle();
    if (options.sandbox === undefined) await usedSandbox.release(key);
    await store.close();
    await emulator.stop();
    emulator.assertDone();
  });
  return {
    agent,
    store,
    emulator,
    key,
    dataDir,
    requests: () => emulator.requests,
    script: (steps) => emulator.script(steps),
    ask: (text, attachments = [], events = []) =>
      agent.handle({ conversationKey: key, user: testUser, text, attachments }, { progress: { report: (event) => void events.push(event) } }),
  };
}

function request(h: Harness, index: number): RecordedRequest {
  const found = h.requests()[index];
  assert.ok(found, `no model request #${index + 1}`);
  return found;
}

describe("agent turns", () => {
  test("a one-cell answer, with progress, the audit log and the system prompt", async (t) => {
    const h = await harness(t);
    h.script([codeStep("6 * 7"), textStep("The answer is 42.")]);
    const events: ProgressEvent[] = [];
    // An adapter whose progress throws and rejects must not break the turn.
    const progress: Progress = {
      report(event) {
        events.push(event);
        if (event.type === "cell-started") throw new Error("adapter bug");
        if (event.type === "thinking") return Promise.reject(new Error("adapter outage"));
      },
    };
    const reply = await h.agent.handle({ conversationKey: h.key, user: testUser, text: "What is six times seven?", attachments: [] }, { progress });

    assert.equal(reply.text, "The answer is 42.");
    assert.equal(reply.error, null);
    assert.equal(reply.limit, null);
    assert.deepEqual(reply.files, []);
    assert.equal(reply.cells.length, 1);
    assert.deepEqual({ ...reply.cells[0], durationMs: 0 }, { code: "6 * 7", stdout: "", stderr: "", value: "42", error: null, durationMs: 0 });
    h.emulator.assertDone();

    assert.match(toolOutputs(request(h, 1))[0] ?? "", /^value:\n42$/);
    const instructions = instructionsOf(request(h, 0));
    assert.match(instructions, /Python 3\.\d+\.\d+/);
    assert.match(instructions, /pandas/);
    assert.match(instructions, /No network/);
    assert.match(instructions, /at most 5\.0 s/);
    assert.deepEqual(userTexts(request(h, 0)), ["What is six times seven?"]);

    // The answer streams in pieces (THREADBOOK_MODEL_STREAM is on by default) before the turn finishes.
    const types = events.map((event) => event.type).filter((type, index, all) => type !== "answer-delta" || all[index - 1] !== "answer-delta");
    assert.deepEqual(types, ["turn-started", "session", "thinking", "cell-started", "cell-finished", "thinking", "answer-delta", "turn-finished"]);
    assert.deepEqual(events[1], { type: "session", origin: "new" });
    const finished = events[4];
    assert.ok(finished?.type === "cell-finished" && finished.ok && finished.summary === "= 42" && finished.index === 1);

    const runs = await h.store.listCellRuns({ conversationKey: h.key });
    assert.deepEqual(runs.map((run) => [run.code, run.outcome, run.user, run.workspace, run.error]), [["6 * 7", "ok", "test:user", "W1", null]]);
    const turn = await h.store.getTurn(runs[0]?.turnId ?? "");
    assert.equal(turn?.status, "answered");
  });

  for (const api of ["responses", "chat"] as const) {
    test(`${api}: an error the model repairs on the next step, the traceback reaching it`, async (t) => {
      const h = await harness(t, { api });
      h.script([
        codeStep("values = [1, 2, 3]\ntotal = sum(value)"),
        codeStep("total = sum(values)\ntotal"),
        textStep("The total is 6."),
      ]);
      const reply = await h.ask("Sum 1, 2 and 3.");
      h.emulator.assertDone();
      assert.equal(reply.text, "The total is 6.");
      assert.match(reply.cells[0]?.error ?? "", /NameError: name 'value' is not defined/);
      assert.equal(reply.cells[1]?.value, "6");

      const [traceback] = toolOutputs(request(h, 1));
      assert.match(traceback ?? "", /^error:\nTraceback \(most recent call last\):/);
      assert.match(traceback ?? "", /line 2/);
      assert.match(traceback ?? "", /NameError: name 'value' is not defined/);
      assert.doesNotMatch(traceback ?? "", /runner\.py/);
      assert.deepEqual((await h.store.listCellRuns({ conversationKey: h.key })).map((run) => run.outcome), ["error", "ok"]);
    });
  }

  test("a figure and a CSV come back as files, the figure shown to the model", async (t) => {
    const h = await harness(t);
    h.script([
      codeStep(
        "import matplotlib.pyplot as plt\nimport pandas as pd\n" +
          "frame = pd.DataFrame({'month': [1, 2, 3], 'sales': [10, 30, 20]})\n" +
          "plt.plot(frame['month'], frame['sales'])\nframe.to_csv('sales-by-month.csv', index=False)",
      ),
      textStep("Sales peaked in month 2; the chart and the table are attached."),
    ]);
    const events: ProgressEvent[] = [];
    const reply = await h.ask("Chart the sales.", [], events);
    h.emulator.assertDone();

    const csv = reply.files.find((file) => file.name === "sales-by-month.csv");
    assert.ok(csv, `files: ${reply.files.map((file) => file.name).join(", ")}`);
    assert.equal(csv.data.toString(), "month,sales\n1,10\n2,30\n3,20\n");
    assert.equal(csv.image, false);
    assert.equal(csv.bytes, csv.data.length);
    const figure = reply.files.find((file) => /^figure-\d+\.png$/.test(file.name));
    assert.ok(figure && figure.image && figure.data.subarray(0, 4).equals(PNG_MAGIC));
    assert.deepEqual(reply.filesOmitted, []);

    const after = request(h, 1);
    assert.equal(imageCount(after), 1);
    assert.match(toolOutputs(after)[0] ?? "", /sales-by-month\.csv/);
    assert.match(toolOutputs(after)[0] ?? "", /the images follow/);
    const ready = events.find((event) => event.type === "files-ready");
    assert.equal(ready?.type === "files-ready" && ready.files.length, 2);
  });

  test("without images the model is told it cannot see the figure", async (t) => {
    const h = await harness(t, { env: { THREADBOOK_MODEL_IMAGES: "false" } });
    h.script([codeStep("import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])"), textStep("Done.")]);
    const reply = await h.ask("Bar chart, please.");
    h.emulator.assertDone();
    assert.equal(reply.files.filter((file) => file.image).length, 1);
    assert.equal(imageCount(request(h, 1)), 0);
    assert.match(toolOutputs(request(h, 1))[0] ?? "", /you cannot see them/);
  });

  test("reply files are bounded in count and size, the rest named", async (t) => {
    const h = await harness(t, { env: { THREADBOOK_REPLY_MAX_FILES: "2", THREADBOOK_REPLY_MAX_FILE_MB: "1" } });
    h.script([
      codeStep("for name in ['a.txt', 'b.txt', 'c.txt']:\n    open(name, 'w').write(name)\nopen('big.bin', 'wb').write(b'0' * 1_500_000)"),
      textStep("Wrote four files."),
    ]);
    const reply = await h.ask("Write some files.");
    h.emulator.assertDone();
    assert.deepEqual(reply.files.map((file) => file.name), ["a.txt", "b.txt"]);
    assert.deepEqual(reply.filesOmitted.toSorted(), ["big.bin", "c.txt"]);
  });

  test("state is kept across two turns, and the second sees the first", async (t) => {
    const h = await harness(t);
    h.script([codeStep("secret = 41"), textStep("Stored it."), codeStep("secret + 1"), textStep("It is 42.")]);
    const first = await h.ask("Remember 41.");
    assert.equal(first.text, "Stored it.");
    const events: ProgressEvent[] = [];
    const second = await h.ask("Add one to it.", [], events);
    h.emulator.assertDone();
    assert.equal(second.cells[0]?.value, "42");
    assert.deepEqual(events.find((event) => event.type === "session"), { type: "session", origin: "resumed" });

    const followUp = request(h, 2);
    assert.deepEqual(userTexts(followUp), ["Remember 41.", "Add one to it."]);
    assert.deepEqual(codeCalls(followUp), ["secret = 41"]);
    assert.equal(toolOutputs(followUp).length, 1);
  });

  test("attached files are put in under safe, unique names and described to the model", async (t) => {
    const h = await harness(t);
    const attachments: Attachment[] = [
      { name: "../reports/Q3 sales.csv", data: Buffer.from("region,amount\nnorth,10\nsouth,32\n") },
      { name: "notes.txt", data: Buffer.from("first note\n") },
      { name: "notes.txt", data: Buffer.from("second note\n") },
    ];
    h.script([
      codeStep("import pandas as pd\npd.read_csv('Q3 sales.csv')['amount'].sum()"),
      codeStep("open('notes-2.txt').read()"),
      textStep("Sales total 42."),
    ]);
    const reply = await h.ask("Total sales?", attachments);
    h.emulator.assertDone();
    assert.equal(reply.cells[0]?.value, "42");
    assert.equal(reply.cells[1]?.value, "'second note\\n'");
    assert.deepEqual(reply.files, [], "attachments are not returned as files");

    const [question] = userTexts(request(h, 0));
    assert.match(question ?? "", /^Total sales\?\n\nThe user attached 3 files/);
    assert.match(question ?? "", /- Q3 sales\.csv \(sent as "\.\.\/reports\/Q3 sales\.csv"\): 32 B, csv/);
    assert.match(question ?? "", /region,amount\n\s+north,10/);
    assert.match(question ?? "", /- notes\.txt: 11 B, text/);
    assert.match(question ?? "", /- notes-2\.txt \(sent as "notes\.txt"\): 12 B, text/);
  });

  test("a cell limit ends the turn with what was done, and the next turn continues cleanly", async (t) => {
    const h = await harness(t, { env: { THREADBOOK_TURN_MAX_CELLS: "2" } });
    h.script([
      codeStep("a = 1"),
      { type: "code", text: "Now b.", calls: [{ code: "b = 2" }] },
      codeStep("c = 3", "d = 4"),
      textStep("a and b are set."),
    ]);
    const reply = await h.ask("Set some variables.");
    assert.equal(reply.limit, "cells");
    assert.equal(reply.error, null);
    assert.equal(reply.cells.length, 2);
    assert.match(reply.text, /^Now b\.\n\nI stopped after running 2 cells.*THREADBOOK_TURN_MAX_CELLS/s);
    const turnId = (await h.store.listCellRuns({ conversationKey: h.key }))[0]?.turnId ?? "";
    assert.deepEqual({ ...(await h.store.getTurn(turnId)), startedAt: 0, finishedAt: 0, id: "" }, {
      id: "", conversationKey: h.key, user: testUser, text: "Set some variables.", startedAt: 0, finishedAt: 0, status: "limit", limit: "cells", error: null,
    });

    const next = await h.ask("What did you set?");
    h.emulator.assertDone();
    assert.equal(next.text, "a and b are set.");
    const followUp = request(h, 3);
    assert.equal(codeCalls(followUp).length, 4);
    assert.equal(toolOutputs(followUp).length, 4, "every earlier code call has its result");
    assert.match(toolOutputs(followUp).at(-1) ?? "", /Not run: the turn reached its cells limit/);
  });

  test("a step limit and a time limit each end a turn and name their setting", async (t) => {
    const steps = await harness(t, { env: { THREADBOOK_TURN_MAX_STEPS: "2" } });
    steps.script([codeStep("x = 1"), codeStep("y = 2")]);
    const byStep = await steps.ask("Go.");
    steps.emulator.assertDone();
    assert.equal(byStep.limit, "steps");
    assert.match(byStep.text, /2 model steps.*THREADBOOK_TURN_MAX_STEPS/);

    const time = await harness(t, { env: { THREADBOOK_TURN_TIMEOUT_S: "4" } });
    time.script([codeStep("import time\ntime.sleep(0.2)"), delayStep(15_000)]);
    const byTime = await time.ask("Go slowly.");
    time.emulator.assertDone();
    assert.equal(byTime.limit, "time");
    assert.equal(byTime.cells.length, 1);
    assert.match(byTime.text, /4\.0 s, the time limit.*THREADBOOK_TURN_TIMEOUT_S/);

    const tokens = await harness(t, { env: { THREADBOOK_TURN_MAX_TOKENS: "1000" } });
    tokens.script([{ type: "code", calls: [{ code: "z = 3" }], usage: { inputTokens: 900, outputTokens: 200 } }]);
    const byTokens = await tokens.ask("Go.");
    tokens.emulator.assertDone();
    assert.equal(byTokens.limit, "tokens");
    assert.match(byTokens.text, /1,100 model tokens.*THREADBOOK_TURN_MAX_TOKENS/);
  });

  test("a flood of output reaches the user bounded, and the model only as head and tail", async (t) => {
    const h = await harness(t);
    h.script([codeStep("print('x' * 3_000_000)"), textStep("That was a lot of x.")]);
    const reply = await h.ask("Print a lot.");
    h.emulator.assertDone();
    const stdout = reply.cells[0]?.stdout ?? "";
    assert.ok(stdout.length > 500_000 && stdout.length <= 1_100_000, `stdout kept for the user: ${stdout.length}`);

    const next = request(h, 1);
    const size = JSON.stringify(next.body).length;
    assert.ok(size < 25_000, `the next model request is ${size} characters`);
    const [output] = toolOutputs(next);
    assert.match(output ?? "", /^stdout \(3\.0 MB in all; only the head and tail are shown\):\nx+\n\[\.\.\. [\d,]+ characters cut \.\.\.\]\nx+/);
  });

  test("model errors end the turn with a plain message and keep the cells that ran", async (t) => {
    const h = await harness(t, { modelTimeoutMs: 1_000 });
    const cases: [ScriptEntry, RegExp][] = [
      [invalidApiKeyError(), /rejected the API key \(401\)\. Check OPENAI_API_KEY/],
      [modelNotFoundError("gpt-test"), /model 'gpt-test' was not found \(404\)\. Check THREADBOOK_MODEL/],
      // A wait the turn can afford is waited out (model-usage.test.ts); this one it cannot.
      [rateLimitError({ "retry-after": "3600" }), /busy \(429\) and asked to wait 60 min 0 s, longer than this question has left/],
      [serverError(500), /failed \(500\); try again/],
      [delayStep(3_000), /did not answer within 1 s \(THREADBOOK_MODEL_TIMEOUT_S\)/],
    ];
    for (const [step, message] of cases) {
      h.script([step]);
      const events: ProgressEvent[] = [];
      const reply = await h.ask("Anything.", [], events);
      assert.match(reply.error ?? "", message);
      assert.equal(reply.text, "The turn failed before any code ran.");
      assert.equal(reply.limit, null);
      assert.deepEqual(reply.cells, []);
      const failed = events.at(-1);
      assert.ok(failed?.type === "turn-failed" && message.test(failed.message));
    }

    h.script([codeStep("partial = 'done'"), serverError(503)]);
    const midway = await h.ask("Start, then fail.");
    assert.match(midway.error ?? "", /failed \(503\)/);
    assert.equal(midway.cells.length, 1);
    assert.equal(midway.text, "The turn failed after 1 cell ran.");

    h.script([codeStep("partial"), textStep("Recovered.")]);
    const recovered = await h.ask("Try again.");
    h.emulator.assertDone();
    assert.equal(recovered.text, "Recovered.");
    assert.equal(recovered.cells[0]?.value, "'done'");
    const followUp = h.requests().at(-2);
    assert.ok(followUp);
    assert.equal(codeCalls(followUp).length, toolOutputs(followUp).length, "the failed turn's calls are all answered");
    const runs = await h.store.listCellRuns({ conversationKey: h.key });
    const statuses = new Set(await Promise.all(runs.map(async (run) => (await h.store.getTurn(run.turnId))?.status)));
    assert.deepEqual([...statuses], ["failed", "answered"]);
  });

  test("two messages to one conversation run one after the other, in order", async (t) => {
    const h = await harness(t);
    h.script([
      codeStep("import time\ntime.sleep(0.5)\norder = ['first']"),
      textStep("First done."),
      codeStep("order.append('second')\norder"),
      textStep("Second done."),
    ]);
    const firstEvents: ProgressEvent[] = [];
    const secondEvents: ProgressEvent[] = [];
    const first = h.ask("First.", [], firstEvents);
    const second = h.ask("Second.", [], secondEvents);
    await until(() => h.agent.pending(h.key) === 2, "both turns are in the conversation's queue");
    const [firstReply, secondReply] = await Promise.all([first, second]);
    h.emulator.assertDone();
    assert.equal(firstReply.text, "First done.");
    assert.equal(secondReply.text, "Second done.");
    assert.equal(secondReply.cells[0]?.value, "['first', 'second']");
    assert.deepEqual(secondEvents[0], { type: "queued", ahead: 1, reason: "conversation" });
    assert.equal(firstEvents.some((event) => event.type === "queued"), false);
    assert.deepEqual(userTexts(request(h, 2)), ["First.", "Second."]);
  });

  test("a cell that kills the session tells the model its state is gone", async (t) => {
    const h = await harness(t);
    h.script([codeStep("kept = 1"), codeStep("import os\nos._exit(3)"), codeStep("'kept' in globals()"), textStep("The session restarted.")]);
    const reply = await h.ask("Crash it.");
    h.emulator.assertDone();
    assert.equal(reply.cells[2]?.value, "False");
    assert.match(toolOutputs(request(h, 2))[1] ?? "", /session was restarted/);
    assert.deepEqual((await h.store.listCellRuns({ conversationKey: h.key })).map((run) => run.outcome), ["ok", "lost", "ok"]);
    const session = await sandbox.acquire(h.key);
    assert.equal((await h.store.getConversation(h.key))?.sessionId, session.id, "the new session is bound");
  });
});

describe("machinery failures", () => {
  test("a sandbox that cannot start a session ends the turn with a plain message", async (t) => {
    const dockerDown: Sandbox = {
      acquire: () => Promise.reject(new SandboxError("docker_unavailable", "Docker is not running or cannot be reached, so code cannot run.")),
      release: () => Promise.resolve(),
      detach: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const h = await harness(t, { sandbox: dockerDown });
    const events: ProgressEvent[] = [];
    const reply = await h.ask("Anything.", [{ name: "orders.csv", data: Buffer.from("a\n1\n") }], events);
    assert.equal(reply.error, "Docker is not running or cannot be reached, so code cannot run.");
    assert.equal(reply.text, "The turn failed before any code ran.");
    assert.deepEqual(reply.attachmentsNotPlaced, ["orders.csv"], "the attachment never reached a session, so it must be sent again");
    assert.deepEqual(events.map((event) => event.type), ["turn-started", "turn-failed"]);
    assert.equal(h.requests().length, 0);
    assert.deepEqual(await h.store.loadTranscript(h.key), []);
    assert.deepEqual(await h.store.listAttachments(h.key), []);
  });

  test("attachments a failed turn had put in the session are kept, and not asked for again", async (t) => {
    const h = await harness(t);
    h.script([invalidApiKeyError()]);
    const reply = await h.ask("Anything.", [{ name: "orders.csv", data: Buffer.from("a\n1\n") }]);
    h.emulator.assertDone();
    assert.match(reply.error ?? "", /rejected the API key/);
    assert.deepEqual(reply.attachmentsNotPlaced, []);
    assert.deepEqual((await h.store.listAttachments(h.key)).map((kept) => kept.name), ["orders.csv"]);
  });
});

describe("shutdown", () => {
  const interrupted = "The turn was stopped because threadbook is shutting down.";

  test("interrupt abandons a model answer at once, records the turn as failed, and fails later turns at once", async (t) => {
    const h = await harness(t);
    h.script([delayStep(20_000)]);
    const events: ProgressEvent[] = [];
    const pending = h.ask("Take your time.", [], events);
    const queued = h.ask("And then this.");
    await until(() => h.requests().length === 1, "the model is asked");
    // Order, not elapsed time: the replies come while the model's 20 s answer is still unsent.
    let modelAnswer: "answered" | "client hung up" | "not yet" = "not yet";
    void request(h, 0).outcome.then((outcome) => { modelAnswer = outcome; });
    h.agent.interrupt();
    const [reply, later] = await Promise.all([pending, queued]);
    assert.notEqual(modelAnswer, "answered", "the model answer is not waited for");
    assert.equal(reply.error, interrupted);
    assert.equal(later.error, interrupted);
    assert.equal(h.requests().length, 1, "the waiting turn never reached the model");
    assert.deepEqual(events.at(-1), { type: "turn-failed", message: interrupted });
    // The waiting turn was refused before it began, so nothing of it was recorded.
    assert.deepEqual(recordedTurns(h.dataDir, h.key).map((turn) => [turn.status, turn.error]), [["failed", interrupted]]);
    assert.deepEqual(later.attachmentsNotPlaced, []);
  });

  test("end stops a running cell by removing its session, and no session is left once the turn is over", async (t) => {
    const h = await harness(t);
    h.script([codeStep("import time\ntime.sleep(60)")]);
    const events: ProgressEvent[] = [];
    const pending = h.ask("Sleep.", [], events);
    await until(() => events.some((event) => event.type === "cell-started"), "the cell runs");
    h.agent.interrupt();
    // Recorded at once, before the cell has ended: the process may exit any moment now.
    assert.equal(recordedTurns(h.dataDir, h.key)[0]?.status, "failed");
    await h.agent.end(h.key);
    const reply = await pending;
    h.emulator.assertDone();
    assert.equal(reply.error, interrupted);
    assert.deepEqual(recordedTurns(h.dataDir, h.key).map((turn) => [turn.status, turn.error]), [["failed", interrupted]]);
    const name = sessionContainerName(instance, h.key);
    assert.deepEqual((await instanceContainers(instance)).filter((info) => info.Names[0] === `/${name}`), [], "the session (and any restarted one) is removed");
    assert.deepEqual(await h.store.loadTranscript(h.key), [], "the conversation is forgotten");
  });
});

describe("restarts", () => {
  test("a conversation continues after the process restarts, and is told when its session was lost and its variables put back", async (t) => {
    const restartInstance = testInstance();
    const dataDir = join(dataRoot, `restart-${uniqueName()}`);
    const key = `test:restart-${uniqueName()}`;
    t.after(() => removeInstance(restartInstance));

    const firstSandbox = await startTestSandbox({ instance: restartInstance, poolSize: 0 });
    try {
      const first = await harness(t, { sandbox: firstSandbox, dataDir, key, env: { THREADBOOK_SNAPSHOT_MB: "64" } });
      first.script([codeStep("kept = 'yes'"), textStep("Kept.")]);
      assert.equal((await first.ask("Keep something.")).text, "Kept.");
      first.emulator.assertDone();
      await first.agent.idle();
      await first.store.close();
    } finally {
      await firstSandbox.close();
    }

    const secondSandbox = await startTestSandbox({ instance: restartInstance, poolSize: 0 });
    t.after(() => secondSandbox.close());
    const second = await harness(t, { sandbox: secondSandbox, dataDir, key, env: { THREADBOOK_SNAPSHOT_MB: "64" } });
    second.script([codeStep("kept"), textStep("Still yes.")]);
    const events: ProgressEvent[] = [];
    const resumed = await second.ask("Still there?", [], events);
    assert.equal(resumed.cells[0]?.value, "'yes'");
    assert.deepEqual(events.find((event) => event.type === "session"), { type: "session", origin: "resumed" });
    assert.deepEqual(userTexts(request(second, 0)), ["Keep something.", "Still there?"]);

    await secondSandbox.release(key);
    second.script([codeStep("'kept' in globals()"), textStep("Gone.")]);
    const lostEvents: ProgressEvent[] = [];
    const lost = await second.ask("And now?", [], lostEvents);
    second.emulator.assertDone();
    assert.equal(lost.cells[0]?.value, "True", "the variables saved after the first turn were put back");
    assert.deepEqual(lostEvents.find((event) => event.type === "session"), { type: "session", origin: "lost" });
    assert.equal(userTexts(request(second, 2)).at(-1), `${SESSION_REPLACED_NOTE}\n\nThe variables from the end of the previous turn were put back into the new session (modules imported again): \`kept\`.\n\nAnd now?`);
    assert.equal(lost.text, "Gone.\n\n(The Python session was restarted; variables put back: `kept`.)");
  });
});

/** A logger whose lines the test reads, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe("kept attachments", () => {
  const sales: Attachment = { name: "sales.csv", data: Buffer.from("region,amount\nnorth,10\nsouth,32\n") };
  const sumSales = "import pandas as pd\npd.read_csv('sales.csv')['amount'].sum()";
  const restoredSales = "The files the user attached earlier were put back in the working directory, as they were sent:\n- sales.csv (32 B)";

  test("are put back when the session was lost, and the model is told", async (t) => {
    const h = await harness(t);
    h.script([codeStep(sumSales), textStep("42."), codeStep(sumSales), textStep("Still 42.")]);
    const first = await h.ask("Total?", [sales]);
    assert.equal(first.cells[0]?.value, "42");
    assert.deepEqual((await h.store.listAttachments(h.key)).map((kept) => [kept.name, kept.bytes]), [["sales.csv", 32]]);

    // As the idle reaper would.
    await sandbox.release(h.key);
    const events: ProgressEvent[] = [];
    const second = await h.ask("And now?", [], events);
    h.emulator.assertDone();
    assert.equal(second.error, null);
    assert.equal(second.cells[0]?.value, "42");
    assert.deepEqual(second.files, [], "a file put back is not returned as one the turn made");
    assert.deepEqual(events.find((event) => event.type === "session"), { type: "session", origin: "lost" });
    const question = userTexts(request(h, 2)).at(-1) ?? "";
    assert.equal(question, `${SESSION_LOST_NOTE}\n\n${restoredSales}\n\nAnd now?`);
    assert.match(question, /session of this conversation was lost .* and a new one was started\. Every variable and import .* is gone, and so are the files the code made/);
  });

  test("are put back after a cell kills the session, so the next cell reads them", async (t) => {
    const h = await harness(t);
    h.script([codeStep("import os\nos._exit(1)"), codeStep(sumSales), textStep("42.")]);
    const reply = await h.ask("Total?", [sales]);
    h.emulator.assertDone();
    assert.equal(reply.cells[1]?.value, "42");
    assert.deepEqual(reply.files, []);
    const crashed = toolOutputs(request(h, 1))[0] ?? "";
    assert.match(crashed, /note: the Python session was restarted, so every variable and import is gone, and so are the files the code made\./);
    assert.ok(crashed.endsWith(`\n\n${restoredSales}`), crashed);
    assert.deepEqual((await h.store.listCellRuns({ conversationKey: h.key })).map((run) => run.outcome), ["lost", "ok"]);
  });

  test("a kept file that is missing is skipped, and said in the log and to the model", async (t) => {
    const { logger, lines } = capturingLogger();
    const h = await harness(t, { logger });
    h.script([textStep("Got both."), codeStep(sumSales), textStep("42.")]);
    await h.ask("Keep these.", [sales, { name: "notes.txt", data: Buffer.from("a note\n") }]);
    const notes = (await h.store.listAttachments(h.key)).find((kept) => kept.name === "notes.txt");
    assert.ok(notes);
    rmSync(join(h.dataDir, notes.path));

    await sandbox.release(h.key);
    const reply = await h.ask("Total?");
    h.emulator.assertDone();
    assert.equal(reply.cells[0]?.value, "42");
    assert.ok(
      (userTexts(request(h, 1)).at(-1) ?? "").endsWith(
        `${restoredSales}\n\nThese files the user attached earlier could not be put back; ask the user to attach them again if they are needed:\n- notes.txt: threadbook no longer has its copy.\n\nTotal?`,
      ),
    );
    const warning = lines.find((line) => line["msg"] === "a kept attachment's file is missing; not restored");
    assert.deepEqual(warning && [warning["level"], warning["name"], warning["path"]], [40, "notes.txt", notes.path]);
  });

  test("a kept file too big for the new session is skipped with a note, and the turn goes on", async (t) => {
    const smallInstance = testInstance();
    const dataDir = join(dataRoot, `kept-${uniqueName()}`);
    const key = `test:kept-${uniqueName()}`;
    t.after(() => removeInstance(smallInstance));

    const first = await harness(t, { dataDir, key });
    first.script([textStep("Got both.")]);
    await first.ask("Keep these.", [{ name: "big.bin", data: Buffer.alloc(2 * 1024 * 1024, 1) }, sales]);
    first.emulator.assertDone();
    await sandbox.release(key);

    const smallSandbox = await startTestSandbox({ instance: smallInstance, poolSize: 0, limits: { ...testSandboxOptions().limits, fileMb: 1 } });
    t.after(() => smallSandbox.close());
    const second = await harness(t, { sandbox: smallSandbox, dataDir, key });
    second.script([codeStep(sumSales), textStep("42.")]);
    const reply = await second.ask("Total?");
    second.emulator.assertDone();
    assert.equal(reply.error, null);
    assert.equal(reply.cells[0]?.value, "42");
    assert.ok(
      (userTexts(request(second, 0)).at(-1) ?? "").endsWith(
        `${restoredSales}\n\nThese files the user attached earlier could not be put back; ask the user to attach them again if they are needed:\n` +
          "- big.bin: The file big.bin is 2.0 MB; a session takes files up to 1.0 MB (THREADBOOK_SANDBOX_FILE_MB).\n\nTotal?",
      ),
    );
  });

  test("reset drops the kept attachments' rows and files", async (t) => {
    const h = await harness(t);
    h.script([textStep("Got it.")]);
    await h.ask("Keep this.", [sales]);
    h.emulator.assertDone();
    const [kept] = await h.store.listAttachments(h.key);
    assert.ok(kept);
    assert.equal(existsSync(join(h.dataDir, kept.path)), true);

    await h.agent.reset(h.key);
    assert.deepEqual(await h.store.listAttachments(h.key), []);
    assert.equal(existsSync(dirname(join(h.dataDir, kept.path))), false);
  });
});
