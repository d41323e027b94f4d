/**
 * The core's seam for chat platforms, against a real Docker sandbox, a real
 * SQLite store and the real `openai` SDK talking to the scripted emulator:
 * stopping one turn, streamed answer text, each event run once, reset and
 * status, turns at once with a bounded queue, each user's share, and a
 * session evicted for capacity coming back with its attachments.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { loadConfig, type ModelApi } from "../src/config.ts";
import { Agent, busyMessage } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import { SESSION_REPLACED_NOTE } from "../src/core/session-continuity.ts";
import type { ProgressEvent, Turn, TurnUser } from "../src/core/turn.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, delayStep, startOpenAIServer, textStep, type OpenAIServer, type ScriptEntry } from "./emulators/openai-server.ts";
import { userTexts } from "./support/recorded-requests.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { until } from "./support/until.ts";

const apiKey = "sk-test-controls-0123456789";
const ada: TurnUser = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };
const grace: TurnUser = { platform: "slack", id: "U2", workspace: "T1", displayName: "Grace" };

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-controls-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 2 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

interface Harness {
  agent: Agent;
  store: SqliteStore;
  emulator: OpenAIServer;
  dataDir: string;
  turn(text: string, fields?: Partial<Turn>): Turn;
  script(steps: ScriptEntry[]): void;
}

async function harness(t: TestContext, options: { env?: Record<string, string>; api?: ModelApi; sandbox?: DockerSandbox; dataDir?: string } = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? join(dataRoot, randomBytes(4).toString("hex"));
  const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_CELL_TIMEOUT_S: "30", ...options.env });
  const emulator = await startOpenAIServer({ apiKey });
  const store = openSqliteStore(dataDir);
  const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", api: options.api ?? "responses", maxRetries: 0, timeoutMs: 20_000, stream: true });
  const usedSandbox = options.sandbox ?? sandbox;
  const agent = new Agent({ model, sandbox: usedSandbox, store, settings: config });
  const keys = new Set<string>();
  t.after(async () => {
    agent.interrupt();
    await agent.idle();
    for (const key of keys) await usedSandbox.release(key);
    await store.close();
    await emulator.stop();
    emulator.assertDone();
  });
  const conversation = `test:${randomBytes(4).toString("hex")}`;
  return {
    agent, store, emulator, dataDir,
    turn: (text, fields = {}) => {
      const turn: Turn = { conversationKey: conversation, user: ada, text, attachments: [], ...fields };
      keys.add(turn.conversationKey);
      return turn;
    },
    script: (steps) => emulator.script(steps),
  };
}

/** A progress that records events and resolves `when(type)` the first time one of that type arrives. */
function recorder() {
  const events: ProgressEvent[] = [];
  const waiting = new Map<string, () => void>();
  return {
    events,
    progress: { report: (event: ProgressEvent) => { events.push(event); waiting.get(event.type)?.(); } },
    when: (type: ProgressEvent["type"]) => new Promise<void>((resolve) => {
      if (events.some((event) => event.type === type)) resolve();
      else waiting.set(type, resolve);
    }),
  };
}

describe("stopping a turn", () => {
  test("a turn stopped mid-cell is interrupted, says who stopped it, and the session keeps its state", async (t) => {
    const h = await harness(t);
    h.script([codeStep("kept = 41"), codeStep("import time\nprint('started', flush=True)\ntime.sleep(25)")]);
    const seen = recorder();
    const pending = h.agent.handle(h.turn("Sleep a while"), { progress: seen.progress });
    await until(() => seen.events.filter((event) => event.type === "cell-started").length === 2, "the second cell runs", 60_000);
    assert.deepEqual(h.agent.status(h.turn("").conversationKey), { running: true, waiting: 0, botRunning: 1, botWaiting: 0 });
    assert.equal(h.agent.stop(h.turn("").conversationKey, "Ada"), true);
    const reply = await pending;
    assert.equal(reply.stoppedBy, "Ada");
    assert.equal(reply.error, null);
    assert.match(reply.text, /Stopped by Ada while cell 2 ran\./);
    assert.equal(reply.cells.length, 2);
    assert.match(reply.cells[1]!.error ?? "", /stopped/);
    assert.equal(h.agent.status(h.turn("").conversationKey).running, false);
    assert.equal(h.agent.stop(h.turn("").conversationKey, "Ada"), false, "nothing left to stop");

    h.script([codeStep("kept + 1"), textStep("42")]);
    const next = await h.agent.handle(h.turn("And now?"));
    assert.equal(next.cells[0]!.value, "42", "variables survived the stop");
    const lastRequest = h.emulator.requests.at(-2)!;
    assert.match(JSON.stringify(lastRequest.body), /Stopped by Ada while cell 2 ran/, "the model is told the turn was stopped");
  });

  test("a stop while the model is answering abandons the answer", async (t) => {
    const h = await harness(t);
    h.script([delayStep(15_000, textStep("too late"))]);
    const seen = recorder();
    const controller = new AbortController();
    const pending = h.agent.handle(h.turn("Think hard"), { progress: seen.progress, signal: controller.signal });
    await until(() => h.emulator.requests.length === 1, "the model is asked");
    controller.abort({ kind: "user", by: "Grace" });
    const reply = await pending;
    assert.equal(reply.stoppedBy, "Grace");
    assert.match(reply.text, /Stopped by Grace before any code ran/);
    assert.equal(await h.emulator.requests[0]!.outcome, "client hung up");
  });

  test("reset in the middle of a turn stops it, then drops the session and the transcript", async (t) => {
    const h = await harness(t);
    const key = h.turn("").conversationKey;
    h.script([codeStep("x = 1\nimport time\ntime.sleep(25)")]);
    const seen = recorder();
    const pending = h.agent.handle(h.turn("Go"), { progress: seen.progress });
    await seen.when("cell-started");
    const sessionBefore = (await h.store.getConversation(key))?.sessionId;
    await h.agent.reset(key, "Ada");
    const reply = await pending;
    assert.equal(reply.stoppedBy, "Ada");
    assert.deepEqual(await h.store.loadTranscript(key), []);
    h.script([codeStep("'x' in dir()"), textStep("fresh")]);
    const next = await h.agent.handle(h.turn("Still there?"));
    assert.equal(next.cells[0]!.value, "False");
    assert.notEqual((await h.store.getConversation(key))?.sessionId, sessionBefore);
  });
});

for (const api of ["responses", "chat"] as const) {
  test(`${api}: the answer streams as progress, and the pieces join to the reply's text`, async (t) => {
    const h = await harness(t, { api });
    const answer = "The median is 42.5 — about € 40, 中位数 😀, over 3 rows.";
    h.script([codeStep("print(42.5)"), textStep(answer)]);
    const seen = recorder();
    const reply = await h.agent.handle(h.turn("Median?"), { progress: seen.progress });
    const pieces = seen.events.flatMap((event) => (event.type === "answer-delta" && event.step === 2 ? [event.text] : []));
    assert.ok(pieces.length > 1, "the answer came in pieces");
    assert.equal(pieces.join(""), reply.text);
    assert.equal(reply.text, answer);
    const finished = seen.events.findIndex((event) => event.type === "turn-finished");
    assert.ok(seen.events.findLastIndex((event) => event.type === "answer-delta") < finished, "every piece comes before the end");
  });
}

describe("each event runs once", () => {
  test("the same event key twice, and again after a restart, runs one turn", async (t) => {
    const h = await harness(t);
    h.script([textStep("Once.")]);
    const turn = h.turn("Hello", { eventKey: "slack:T1:C1:1700000000.000100" });
    const [first, second] = await Promise.all([h.agent.handle(turn), h.agent.handle(turn)]);
    assert.deepEqual([first === null, second === null].sort(), [false, true]);
    assert.equal((first ?? second)!.text, "Once.");

    await h.store.close();
    const restarted = openSqliteStore(h.dataDir);
    t.after(() => restarted.close());
    const config = loadConfig({ THREADBOOK_DATA_DIR: h.dataDir });
    const model = createModelClient({ ...config.model, apiKey, baseURL: h.emulator.baseURL, name: "gpt-test", maxRetries: 0 });
    const agent = new Agent({ model, sandbox, store: restarted, settings: config });
    assert.equal(await agent.handle(turn), null, "a retry after a restart is dropped too");
    assert.equal(h.emulator.requests.length, 1);
  });
});

describe("capacity and fairness", () => {
  test("past THREADBOOK_MAX_TURNS turns wait in order, told their place; past the queue's bound they are refused", async (t) => {
    const h = await harness(t, { env: { THREADBOOK_MAX_TURNS: "1", THREADBOOK_MAX_QUEUED: "2", THREADBOOK_USER_MAX_TURNS: "10" } });
    h.script([codeStep("import time\ntime.sleep(2)"), textStep("first"), textStep("second"), textStep("third")]);
    const recorders = [recorder(), recorder(), recorder(), recorder()];
    const turns = ["first", "second", "third", "fourth"].map((text) => h.turn(text, { conversationKey: `test:capacity-${text}-${randomBytes(3).toString("hex")}` }));
    const finished: string[] = [];
    const first = h.agent.handle(turns[0]!, { progress: recorders[0]!.progress }).then((reply) => { finished.push("first"); return reply; });
    await recorders[0]!.when("cell-started");
    const second = h.agent.handle(turns[1]!, { progress: recorders[1]!.progress }).then((reply) => { finished.push("second"); return reply; });
    const third = h.agent.handle(turns[2]!, { progress: recorders[2]!.progress }).then((reply) => { finished.push("third"); return reply; });
    await Promise.all([recorders[1]!.when("queued"), recorders[2]!.when("queued")]);
    const fourth = await h.agent.handle(turns[3]!, { progress: recorders[3]!.progress });
    assert.equal(fourth.error, busyMessage);
    assert.equal(h.agent.status(turns[0]!.conversationKey).botWaiting, 2);
    const replies = await Promise.all([first, second, third]);
    assert.deepEqual(replies.map((reply) => reply.text), ["first", "second", "third"]);
    assert.deepEqual(finished, ["first", "second", "third"], "order kept");
    const places = (index: number) => recorders[index]!.events.flatMap((event) => (event.type === "queued" && event.reason === "capacity" ? [event.ahead] : []));
    assert.deepEqual(places(1), [0]);
    assert.deepEqual(places(2), [1, 0], "told its place as the queue moved");
  });

  test("past THREADBOOK_MAX_CELLS cells wait for a CPU in order, told their place, while a turn waiting on the model is not held back", async (t) => {
    const h = await harness(t, { env: { THREADBOOK_MAX_TURNS: "4", THREADBOOK_MAX_CELLS: "1", THREADBOOK_USER_MAX_TURNS: "10" } });
    const key = (name: string) => `test:cells-${name}-${randomBytes(3).toString("hex")}`;
    const [a, b, c] = [recorder(), recorder(), recorder()];
    // The one CPU slot is held by a cell that runs until its turn is stopped.
    h.script([codeStep("import time\nwhile True:\n    time.sleep(0.05)")]);
    const loopKey = key("a");
    const first = h.agent.handle(h.turn("Loop", { conversationKey: loopKey }), { progress: a.progress });
    await a.when("cell-started");
    h.script([codeStep("'b'")]);
    const second = h.agent.handle(h.turn("B?", { conversationKey: key("b") }), { progress: b.progress });
    await b.when("queued");
    h.script([codeStep("'c'")]);
    const third = h.agent.handle(h.turn("C?", { conversationKey: key("c") }), { progress: c.progress });
    await c.when("queued");
    // Two turns wait for the CPU, yet a turn that only asks the model is answered.
    h.script([textStep("Only words.")]);
    assert.equal((await h.agent.handle(h.turn("Words?", { conversationKey: key("d") }))).text, "Only words.");
    assert.ok(!b.events.some((event) => event.type === "cell-started"), "B's cell waits");
    h.script([textStep("done"), textStep("done")]);
    assert.equal(h.agent.stop(loopKey, "Ada"), true);
    const stopped = await first;
    assert.equal(stopped.stoppedBy, "Ada");
    const [replyB, replyC] = await Promise.all([second, third]);
    assert.deepEqual([replyB.cells[0]?.value, replyC.cells[0]?.value], ["'b'", "'c'"]);
    const places = (seen: ReturnType<typeof recorder>) => seen.events.flatMap((event) => (event.type === "queued" && event.reason === "cpu" ? [event.ahead] : []));
    assert.deepEqual(places(b), [0]);
    assert.deepEqual(places(c), [1, 0], "told its place as the queue moved");
    const order = (seen: ReturnType<typeof recorder>) => seen.events.map((event) => event.type).filter((type) => type === "queued" || type === "cell-started");
    assert.deepEqual(order(c), ["queued", "queued", "cell-started"], "told it waits before its cell starts");
  });

  test("one user's turns at once and per hour are bounded, with a polite message; another user is not held back", async (t) => {
    const h = await harness(t, { env: { THREADBOOK_USER_MAX_TURNS: "1", THREADBOOK_USER_TURNS_PER_HOUR: "2" } });
    h.script([delayStep(1_500, textStep("one")), textStep("grace"), textStep("two")]);
    const conversation = (suffix: string) => `test:fair-${suffix}-${randomBytes(3).toString("hex")}`;
    const first = h.agent.handle(h.turn("one", { conversationKey: conversation("a") }));
    // The scripted steps are taken in the order requests arrive: the first turn's must arrive first.
    await until(() => h.emulator.requests.length === 1, "the first turn asks the model");
    const seen = recorder();
    const refused = await h.agent.handle(h.turn("at once", { conversationKey: conversation("b") }), { progress: seen.progress });
    assert.match(refused.error ?? "", /You already have a question running or waiting/);
    assert.deepEqual(seen.events.map((event) => event.type), ["turn-failed"]);
    const other = await h.agent.handle(h.turn("grace", { conversationKey: conversation("c"), user: grace }));
    assert.equal(other.text, "grace");
    assert.equal((await first).text, "one");
    assert.equal((await h.agent.handle(h.turn("two", { conversationKey: conversation("d") }))).text, "two");
    const hourly = await h.agent.handle(h.turn("three", { conversationKey: conversation("e"), attachments: [{ name: "data.csv", data: Buffer.from("a\n1\n") }] }));
    assert.match(hourly.error ?? "", /You have asked 2 questions in the past hour.*Try again in (60 minutes|59 minutes)/);
    assert.deepEqual(hourly.attachmentsNotPlaced, ["data.csv"], "nothing of a refused turn was kept");
  });
});

test("a session evicted for capacity comes back with its variables and its attachments, and the model is told", async (t) => {
  const smallInstance = testInstance();
  const small = await startTestSandbox({ instance: smallInstance, poolSize: 0, maxSessions: 1 });
  t.after(async () => {
    await small.close();
    await removeInstance(smallInstance);
  });
  const h = await harness(t, { sandbox: small, env: { THREADBOOK_MAX_SESSIONS: "1", THREADBOOK_MAX_TURNS: "1" } });
  h.script([codeStep("import pandas as pd\ndf = pd.read_csv('orders.csv')\nlen(df)"), textStep("2 rows"), textStep("other"), codeStep("import os\n(sorted(os.listdir('.')), len(df))"), textStep("back")]);
  const mine = h.turn("Rows?", { attachments: [{ name: "orders.csv", data: Buffer.from("id,total\n1,40\n2,45\n") }] });
  assert.equal((await h.agent.handle(mine)).cells[0]!.value, "2");
  // The variables are saved after the reply, the session busy meanwhile; the one session slot is free once that is done.
  await h.agent.idle();
  await h.agent.handle(h.turn("Someone else", { conversationKey: `test:evictor-${randomBytes(3).toString("hex")}`, user: grace }));
  const back = await h.agent.handle({ ...mine, text: "Files?", attachments: [] });
  assert.match(back.cells[0]!.value ?? "", /orders\.csv/, "the attachment was put back");
  assert.match(back.cells[0]!.value ?? "", /, 2\)$/, "the DataFrame was put back");
  const told = userTexts(h.emulator.requests.at(-2)!).join("\n");
  assert.ok(told.includes(SESSION_REPLACED_NOTE), "the model was told the session was replaced and its variables put back");
  assert.match(told, /put back into the new session \(modules imported again\): `df`, `pd`/);
  assert.equal(back.text, "back\n\n(The Python session was restarted; variables put back: `df`, `pd`.)");
});
