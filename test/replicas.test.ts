/**
 * Several replicas of the bot as one: two Agents, each with its own store
 * on one real Postgres (started by the test from Debian's packages) and its
 * own Docker sandbox on one real Docker host, handing sessions on between
 * turns, with the real `openai` SDK talking to the scripted model emulator. A conversation's turns run one at a time across them by the
 * conversation's lease; a platform event runs once whichever replica gets
 * it; a user's turns at once are counted across them; and a replica that
 * dies mid-turn leaves its turn to be told about, and its conversation to go
 * on, once its lease expires.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, test, type TestContext } from "node:test";
import { loadConfig } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { ProgressEvent, Reply, TurnUser } from "../src/core/turn.ts";
import { sessionContainerName, type DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { sweepIdleSessions } from "../src/core/idle-sessions.ts";
import { silentLogger } from "../src/log.ts";
import { openPostgresStore, type PostgresStore } from "../src/store/postgres-store.ts";
import { codeStep, holdStep, startOpenAIServer, textStep, type OpenAIServer } from "./emulators/openai-server.ts";
import { toolOutputs, userTexts } from "./support/recorded-requests.ts";
import { startPostgres, type PostgresServer } from "./support/postgres.ts";
import { containerGone, instanceContainers, removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const apiKey = "sk-test-replicas-0123456789";
const instance = testInstance();
const ada: TurnUser = { platform: "test", id: "ada", workspace: "W1", displayName: "Ada" };
let server: PostgresServer;
/** Each replica's own sandbox on the one host: they find a conversation's session by its container's name. */
let sandboxes: DockerSandbox[];
let emulator: OpenAIServer;

before(async () => {
  [server, emulator] = await Promise.all([startPostgres(), startOpenAIServer({ apiKey })]);
  sandboxes = [];
  for (let index = 0; index < 2; index++) sandboxes.push(await startTestSandbox({ instance, cellTimeoutMs: 10_000, poolSize: 0 }));
});

after(async () => {
  await emulator?.stop();
  for (const sandbox of sandboxes ?? []) await sandbox.close();
  await removeInstance(instance);
  await server?.stop();
});

interface Replica {
  agent: Agent;
  store: PostgresStore;
  sandbox: DockerSandbox;
}

/** A replica: its own store (its own lease holder) and its own Agent, on the shared database, host and model. */
async function replica(t: TestContext, url: string, index: number, env: Record<string, string> = {}): Promise<Replica> {
  const sandbox = sandboxes[index]!;
  const config = loadConfig({ THREADBOOK_CELL_TIMEOUT_S: "10", ...env });
  const store = await openPostgresStore(url);
  const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", api: "responses", maxRetries: 0, timeoutMs: 30_000 });
  const agent = new Agent({ model, sandbox, store, settings: config, leaseTiming: { ttlMs: 2_000, pollMs: 50 }, handOffSessions: true });
  t.after(async () => {
    await agent.idle();
    await store.close();
  });
  return { agent, store, sandbox };
}

/** Settles when `events` gets an event that `matches`; the promise a held model step waits on. */
function eventSeen(events: ProgressEvent[], matches: (event: ProgressEvent) => boolean): { report: (event: ProgressEvent) => void; seen: Promise<void> } {
  let resolve: () => void = () => undefined;
  const seen = new Promise<void>((settle) => {
    resolve = settle;
  });
  return {
    report: (event) => {
      events.push(event);
      if (matches(event)) resolve();
    },
    seen,
  };
}

const conversationKey = () => `test:${randomBytes(4).toString("hex")}`;

test("a follow-up on the other replica waits for the conversation's lease, then finds the same session: each answered once, in order, variables kept", async (t) => {
  const url = await server.createDatabase();
  const [first, second] = [await replica(t, url, 0), await replica(t, url, 1)];
  const key = conversationKey();
  t.after(() => sandboxes[0]!.release(key));
  const requestsBefore = emulator.requests.length;

  const secondEvents: ProgressEvent[] = [];
  const secondQueued = eventSeen(secondEvents, (event) => event.type === "queued" && event.reason === "conversation");
  // The first turn's first model step is held until the follow-up, on the other replica, says it waits.
  emulator.script([
    holdStep(secondQueued.seen, codeStep("x = 41")),
    textStep("x is set."),
    codeStep("print(x + 1)"),
    textStep("It is 42."),
    codeStep("x = x * 2\nprint(x)"),
    textStep("Now 82."),
  ]);
  const firstEvents: ProgressEvent[] = [];
  const firstStarted = eventSeen(firstEvents, (event) => event.type === "turn-started");
  const firstReply = first.agent.handle({ conversationKey: key, user: ada, text: "set x", attachments: [], eventKey: `${key}:1` }, { progress: firstStarted });
  await firstStarted.seen;
  const secondReply = second.agent.handle({ conversationKey: key, user: ada, text: "x + 1?", attachments: [], eventKey: `${key}:2` }, { progress: secondQueued });
  // The same event delivered to both replicas (a retry that landed elsewhere) runs once.
  const duplicate = await second.agent.handle({ conversationKey: key, user: ada, text: "set x", attachments: [], eventKey: `${key}:1` });
  assert.equal(duplicate, null);

  const replies = (await Promise.all([firstReply, secondReply])) as Reply[];
  assert.deepEqual(replies.map((reply) => [reply.error, reply.text]), [[null, "x is set."], [null, "It is 42."]]);
  assert.deepEqual(secondEvents.filter((event) => event.type === "queued").map((event) => event.type === "queued" && event.reason), ["conversation"]);
  const third = await first.agent.handle({ conversationKey: key, user: ada, text: "double it", attachments: [] });
  assert.equal(third.text, "Now 82.");

  const requests = emulator.requests.slice(requestsBefore);
  assert.equal(requests.length, 6);
  // In order: the follow-up's first request already holds the first turn's whole exchange.
  assert.deepEqual(userTexts(requests[2]!).map((text) => text.split("\n").at(-1)), ["set x", "x + 1?"]);
  assert.match(toolOutputs(requests[3]!).at(-1) ?? "", /\b42\b/, "the variable made on one replica is there on the other");
  assert.match(toolOutputs(requests[5]!).at(-1) ?? "", /\b82\b/);
  const turns = await second.store.listCellRuns({ conversationKey: key });
  assert.deepEqual(turns.map((run) => run.outcome), ["ok", "ok", "ok"]);
  const recorded = await Promise.all(replies.map((reply) => first.store.getTurn(reply.turnId!)));
  assert.deepEqual(recorded.map((turn) => turn?.status), ["answered", "answered"]);
  assert.ok(recorded[0]!.finishedAt! <= recorded[1]!.startedAt, "the follow-up started after the first turn ended");
  emulator.assertDone();
});

test("a user's turns at once are counted across replicas", async (t) => {
  const url = await server.createDatabase();
  const env = { THREADBOOK_USER_MAX_TURNS: "1" };
  const [first, second] = [await replica(t, url, 0, env), await replica(t, url, 1, env)];
  const [key, otherKey] = [conversationKey(), conversationKey()];
  t.after(() => sandboxes[0]!.release(key));

  let refused: (reply: Reply) => void = () => undefined;
  const refusal = new Promise<Reply>((resolve) => {
    refused = resolve;
  });
  emulator.script([holdStep(refusal, textStep("Done."))]);
  const events: ProgressEvent[] = [];
  // Thinking: the turn is in the store by then.
  const started = eventSeen(events, (event) => event.type === "thinking");
  const running = first.agent.handle({ conversationKey: key, user: ada, text: "long", attachments: [] }, { progress: started });
  await started.seen;
  const reply = await second.agent.handle({ conversationKey: otherKey, user: ada, text: "another", attachments: [] });
  refused(reply);
  assert.match(reply.error ?? "", /You already have a question running or waiting/);
  assert.equal(reply.turnId, null);
  assert.equal((await running).text, "Done.");
  // Once it is over, the user may ask on either replica.
  emulator.script([textStep("Sure.")]);
  assert.equal((await second.agent.handle({ conversationKey: otherKey, user: ada, text: "now?", attachments: [] })).text, "Sure.");
  emulator.assertDone();
});

test("a replica killed mid-turn: once its lease expires another replica fails the turn and tells about it once, and the conversation goes on there", async (t) => {
  const url = await server.createDatabase();
  const survivor = await replica(t, url, 1);
  const key = conversationKey();
  t.after(() => sandboxes[0]!.release(key));

  // A replica that takes the conversation's lease, starts a turn and is killed before it finishes (no chance to tidy up).
  const storeModule = new URL("../src/store/postgres-store.ts", import.meta.url).href;
  const script = `
    const { writeSync } = await import("node:fs");
    const { openPostgresStore } = await import(${JSON.stringify(storeModule)});
    const store = await openPostgresStore(${JSON.stringify(url)}, { recoverInterruptedTurns: false });
    if (!(await store.leases.acquire(${JSON.stringify(key)}, 1_500))) throw new Error("no lease");
    const turn = await store.startTurn({ conversationKey: ${JSON.stringify(key)}, user: ${JSON.stringify(ada)}, text: "long job" });
    writeSync(1, JSON.stringify({ turn }));
    process.kill(process.pid, "SIGKILL");`;
  const child = spawn(process.execPath, ["--input-type=module", "--no-warnings", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let errors = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (errors += chunk));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_, exitSignal) => resolve(exitSignal)));
  assert.equal(signal, "SIGKILL", errors);
  const { turn } = JSON.parse(output) as { turn: string };

  // The survivor looks now and then, as its adapters do; the turn is told about once its lease has expired.
  const told = [];
  const deadline = Date.now() + 30_000;
  while (told.length === 0 && Date.now() < deadline) {
    told.push(...(await survivor.store.takeInterruptedTurns("test")));
    if (told.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(told.map((each) => [each.id, each.status, each.error]), [[turn, "failed", "interrupted by a restart"]]);
  assert.deepEqual(await survivor.store.takeInterruptedTurns("test"), [], "told about once");

  emulator.script([codeStep("print('still here')"), textStep("Answered on the survivor.")]);
  const reply = await survivor.agent.handle({ conversationKey: key, user: ada, text: "again, please", attachments: [] });
  assert.deepEqual([reply.error, reply.text], [null, "Answered on the survivor."]);
  emulator.assertDone();
});

test("a handed-off session idle past its time is ended by a replica under the conversation's lease, never while a turn holds it", async (t) => {
  const url = await server.createDatabase();
  const [first, second] = [await replica(t, url, 0), await replica(t, url, 1)];
  const [busyKey, idleKey] = [conversationKey(), conversationKey()];
  t.after(() => sandboxes[0]!.release(busyKey));
  emulator.script([codeStep("y = 1"), textStep("ok"), codeStep("z = 2"), textStep("ok")]);
  await first.agent.handle({ conversationKey: idleKey, user: ada, text: "one", attachments: [] });
  await first.agent.handle({ conversationKey: busyKey, user: ada, text: "two", attachments: [] });
  const names = [idleKey, busyKey].map((key) => sessionContainerName(instance, key));
  assert.deepEqual(await Promise.all(names.map(async (name) => (await instanceContainers(instance)).some((info) => info.Names[0] === `/${name}`))), [true, true], "handed off, still running");

  // A turn of the busy conversation holds its lease; every session counts as idle by a zero time to live.
  assert.equal(await first.store.leases.acquire(busyKey, 60_000), true);
  const ended = await sweepIdleSessions({ store: second.store, sandbox: second.sandbox, idleTtlMs: 0, leaseTtlMs: 5_000, logger: silentLogger, now: () => Date.now() + 1 });
  assert.deepEqual(ended, [idleKey]);
  assert.equal(await containerGone(instance, names[0]!, 10_000), true);
  assert.equal((await second.store.getConversation(idleKey))?.sessionId, null);
  assert.notEqual((await second.store.getConversation(busyKey))?.sessionId, null, "the held conversation keeps its session");
  await first.store.leases.release(busyKey);
  emulator.assertDone();
});
