/**
 * What turns cost and how the model is used, end to end: the real agent, a
 * real Docker sandbox and SQLite store, the real `openai` SDK against the
 * emulator, and the real `threadbook usage` command in a child process.
 * Reasoning carried across cells and turns of one conversation and never to
 * another, nor into the log or the reply; prompt cache keys; the usage
 * ledger; daily token budgets refused and crossed mid-turn, across a
 * restart; a 429 waited out within the turn's time, and one it cannot wait for.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test, type TestContext } from "node:test";
import { loadConfig, type ModelApi } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { ProgressEvent, Reply, TurnUser } from "../src/core/turn.ts";
import type { Logger } from "../src/log.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, rateLimitError, startOpenAIServer, textStep, type OpenAIServer, type ScriptEntry } from "./emulators/openai-server.ts";
import { captureLogger } from "./support/capture-logger.ts";
import { mainScript } from "./support/contract-process.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const apiKey = "sk-test-usage-0123456789";
const instance = testInstance();
let sandbox: DockerSandbox;
let root: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "threadbook-usage-"));
  sandbox = await startTestSandbox({ instance });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(root, { recursive: true, force: true });
});

const alice: TurnUser = { platform: "slack", id: "U1", workspace: "T1", displayName: "Alice" };
const bob: TurnUser = { platform: "slack", id: "U2", workspace: "T2", displayName: "Bob" };
const carol: TurnUser = { platform: "slack", id: "U3", workspace: "T1", displayName: "Carol" };

interface Bot {
  agent: Agent;
  store: SqliteStore;
  emulator: OpenAIServer;
  dataDir: string;
  ask: (key: string, user: TurnUser, text: string, events?: ProgressEvent[]) => Promise<Reply>;
  script: (steps: ScriptEntry[]) => void;
  /** Closes the agent and the store, as a stopping process does; the emulator stays for a restarted bot. */
  close: () => Promise<void>;
}

let bots = 0;

/** A bot over `dataDir` (a new one by default) and `emulator` (a new one by default). */
async function startBot(
  t: TestContext,
  options: { env?: Record<string, string>; api?: ModelApi; dataDir?: string; emulator?: OpenAIServer; logger?: Logger } = {},
): Promise<Bot> {
  const dataDir = options.dataDir ?? join(root, `data-${++bots}`);
  const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_CELL_TIMEOUT_S: "10", ...options.env });
  const emulator = options.emulator ?? (await startOpenAIServer({ apiKey }));
  const store = openSqliteStore(dataDir);
  const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", api: options.api ?? "responses", maxRetries: 0, timeoutMs: 10_000 }, options.logger);
  const agent = new Agent({ model, sandbox, store, settings: config, logger: options.logger });
  const keys = new Set<string>();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await agent.idle();
    for (const key of keys) await sandbox.release(key);
    await store.close();
  };
  t.after(async () => {
    await close();
    if (options.emulator === undefined) {
      await emulator.stop();
      emulator.assertDone();
    }
  });
  return {
    agent,
    store,
    emulator,
    dataDir,
    script: (steps) => emulator.script(steps),
    ask: (key, user, text, events = []) => {
      keys.add(key);
      return agent.handle({ conversationKey: key, user, text, attachments: [] }, { progress: { report: (event) => void events.push(event) } });
    },
    close,
  };
}

const run = promisify(execFile);

/** `threadbook usage …` as an operator runs it, over the bot's data directory. */
async function usageCommand(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [mainScript, "usage", ...args], {
    env: { PATH: process.env["PATH"] ?? "", HOME: root, THREADBOOK_DATA_DIR: dataDir, ...env },
    cwd: root,
  });
  return stdout;
}

test("reasoning is carried across the cells and turns of one conversation, never to another, and never reaches the log or a reply; each conversation has its own hashed cache key", async (t) => {
  const log = captureLogger();
  const bot = await startBot(t, { logger: log.logger });
  const first = "slack:T1:C1:1700000000.000100";
  const second = "slack:T1:C2:1700000000.000200";
  bot.script([codeStep("a = 20"), codeStep("a += 1\na"), textStep("a is 21.")]);
  const reply = await bot.ask(first, alice, "What is a?");
  assert.equal(reply.error, null);
  assert.equal(reply.text, "a is 21.");
  assert.deepEqual(reply.cells.map((cell) => cell.value), [null, "21"]);
  bot.script([textStep("Doubled, 42.")]);
  assert.equal((await bot.ask(first, alice, "And doubled?")).text, "Doubled, 42.");
  bot.script([textStep("Hello.")]);
  const other = await bot.ask(second, alice, "Hi");
  assert.equal(other.text, "Hello.");

  const requests = bot.emulator.requests;
  assert.equal(requests.length, 5);
  const issued = bot.emulator.issuedReasoning();
  const idsIn = (index: number) =>
    ((requests[index]?.body["input"] ?? []) as Record<string, unknown>[]).filter((entry) => entry["type"] === "reasoning").map((entry) => String(entry["id"]));
  const firstIds = [...issued.keys()].slice(0, 3);
  // Within the turn, then in the follow-up turn as history: every earlier reasoning item, in place (the emulator checked it).
  assert.deepEqual(idsIn(1), firstIds.slice(0, 1));
  assert.deepEqual(idsIn(2), firstIds.slice(0, 2));
  assert.deepEqual(idsIn(3), firstIds);
  // The other conversation gets none of them.
  assert.deepEqual(idsIn(4), []);
  // They are kept with the conversation's transcript, and only there.
  const kept = (await bot.store.loadTranscript(first)).filter((item) => item.type === "reasoning");
  assert.deepEqual(kept.map((item) => item.id), [...issued.keys()].slice(0, 4));
  const otherKept = (await bot.store.loadTranscript(second)).flatMap((item) => (item.type === "reasoning" ? [item.id] : []));
  assert.deepEqual(otherKept, [...issued.keys()].slice(4), "the other conversation keeps its own only");

  const keys = requests.map((request) => request.body["prompt_cache_key"]);
  assert.equal(new Set(keys.slice(0, 4)).size, 1);
  assert.notEqual(keys[4], keys[0]);
  for (const request of requests) {
    assert.match(String(request.body["prompt_cache_key"]), /^tb-[0-9a-f]{32}$/);
    assert.equal(request.bodyText.includes("C1:1700000000"), false, "the conversation's key is never sent");
  }
  // Each reasoning item was handed out to a request of the conversation it stayed in.
  assert.deepEqual([...issued.values()], [keys[0], keys[0], keys[0], keys[0], keys[4]]);

  const logged = JSON.stringify(log.lines());
  const replies = JSON.stringify([reply, other]);
  assert.ok(log.lines().length > 0);
  for (const item of kept) {
    assert.equal(logged.includes(item.encryptedContent), false, "encrypted reasoning is never logged");
    assert.equal(replies.includes(item.encryptedContent), false, "nor shown in a reply");
    assert.equal(logged.includes(item.id), false);
  }
});

test("the usage ledger after turns by three users in two workspaces; `threadbook usage` as JSON and as a table, with cost where priced", async (t) => {
  const bot = await startBot(t);
  bot.script([
    { type: "code", calls: [{ code: "x = 1" }], usage: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 512, reasoningTokens: 40 } },
    textStep("x is 1.", { inputTokens: 1200, outputTokens: 50, cachedInputTokens: 1024, reasoningTokens: 0 }),
  ]);
  assert.equal((await bot.ask("slack:T1:C1:1", alice, "x?")).text, "x is 1.");
  bot.script([textStep("Hi Bob.", { inputTokens: 500, outputTokens: 20 })]);
  assert.equal((await bot.ask("slack:T2:C9:1", bob, "hi")).text, "Hi Bob.");
  bot.script([textStep("Hi Carol.", { inputTokens: 300, outputTokens: 30 })]);
  assert.equal((await bot.ask("slack:T1:C1:2", carol, "hi")).text, "Hi Carol.");
  await bot.close();

  const prices = { THREADBOOK_MODEL_PRICES: "gpt-test=1/0.5/10" };
  const byUser = JSON.parse(await usageCommand(bot.dataDir, ["--by", "user", "--json"], prices)) as Record<string, unknown>;
  assert.equal(byUser["by"], "user");
  assert.deepEqual(byUser["rows"], [
    // (2,200 − 1,536) × 1 + 1,536 × 0.5 + 150 × 10, per million.
    { user: "slack:U1", model: "gpt-test", turns: 1, steps: 2, inputTokens: 2200, cachedInputTokens: 1536, outputTokens: 150, reasoningTokens: 40, cost: 0.002932 },
    { user: "slack:U2", model: "gpt-test", turns: 1, steps: 1, inputTokens: 500, cachedInputTokens: 0, outputTokens: 20, reasoningTokens: 0, cost: 0.0007 },
    { user: "slack:U3", model: "gpt-test", turns: 1, steps: 1, inputTokens: 300, cachedInputTokens: 0, outputTokens: 30, reasoningTokens: 0, cost: 0.0006 },
  ]);
  assert.deepEqual(byUser["total"], { turns: 3, steps: 4, inputTokens: 3000, cachedInputTokens: 1536, outputTokens: 200, reasoningTokens: 40, cost: 0.004232 });

  const byWorkspace = JSON.parse(await usageCommand(bot.dataDir, ["--by", "workspace", "--json", "--since", "1d"])) as { rows: Record<string, unknown>[] };
  assert.deepEqual(byWorkspace.rows.map((row) => [row["workspace"], row["turns"], row["inputTokens"], row["cost"]]), [
    ["slack:T1", 2, 2500, null],
    ["slack:T2", 1, 500, null],
  ]);
  const byConversation = JSON.parse(await usageCommand(bot.dataDir, ["--by", "conversation", "--json"])) as { rows: Record<string, unknown>[] };
  assert.deepEqual(byConversation.rows.map((row) => row["conversation"]), ["slack:T1:C1:1", "slack:T1:C1:2", "slack:T2:C9:1"]);
  const byDay = JSON.parse(await usageCommand(bot.dataDir, ["--json"])) as { by: string; rows: Record<string, unknown>[] };
  assert.equal(byDay.by, "day");
  assert.deepEqual(byDay.rows.map((row) => [row["day"], row["steps"]]), [[new Date().toISOString().slice(0, 10), 4]]);

  const table = await usageCommand(bot.dataDir, ["--by", "user"], prices);
  const lines = table.split("\n");
  assert.match(lines[0] ?? "", /^Model usage since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(7d\), by user:$/);
  assert.match(table, /^user\s+model\s+turns\s+steps\s+input\s+cached\s+output\s+reasoning\s+cost$/m);
  assert.match(table, /^slack:U1\s+gpt-test\s+1\s+2\s+2,200\s+1,536\s+150\s+40\s+0\.0029$/m);
  assert.match(table, /^total\s+3\s+4\s+3,000\s+1,536\s+200\s+40\s+0\.0042$/m);
  const unpriced = await usageCommand(bot.dataDir, ["--by", "workspace"]);
  assert.match(unpriced, /No prices set \(THREADBOOK_MODEL_PRICES\): tokens only\./);
  assert.doesNotMatch(unpriced, /cost/);
});

test("daily token budgets: a turn that uses one up ends at its next step, later turns are refused saying when it renews, and a restart does not reset it", async (t) => {
  const env = { THREADBOOK_USER_TOKENS_PER_DAY: "1000", THREADBOOK_WORKSPACE_TOKENS_PER_DAY: "1500" };
  const bot = await startBot(t, { env });
  bot.script([{ type: "code", calls: [{ code: "y = 2" }], usage: { inputTokens: 800, outputTokens: 300 } }]);
  const crossed = await bot.ask("slack:T1:C1:10", alice, "y?");
  assert.equal(crossed.limit, "budget");
  assert.equal(crossed.error, null);
  assert.equal(crossed.cells.length, 1, "the cell of the step that crossed the budget still ran");
  assert.match(crossed.text, /I stopped here: your daily budget of 1,000 model tokens is used up\. It renews at midnight UTC, in \d+ (hour|minute)/);
  assert.equal((await bot.store.getTurn(crossed.turnId ?? ""))?.limit, "budget");
  assert.equal((await bot.store.getTurn(crossed.turnId ?? ""))?.status, "limit");

  const requestsBefore = bot.emulator.requests.length;
  const refused = await bot.ask("slack:T1:C1:11", alice, "again?");
  assert.equal(refused.turnId, null);
  assert.match(refused.error ?? "", /^Your daily budget of 1,000 model tokens is used up\. It renews at midnight UTC, in \d+ (hours?|minutes?)( \d+ minutes?)?\. Until then I cannot take new questions from you\.$/);
  assert.equal(bot.emulator.requests.length, requestsBefore, "a refused turn asks the model nothing");

  // Carol shares Alice's workspace: under her own budget, she uses the workspace's up.
  bot.script([textStep("Hi.", { inputTokens: 300, outputTokens: 100 })]);
  assert.equal((await bot.ask("slack:T1:C1:12", carol, "hi")).text, "Hi.");
  const workspaceRefused = await bot.ask("slack:T1:C1:13", carol, "more?");
  assert.match(workspaceRefused.error ?? "", /^This workspace's daily budget of 1,500 model tokens is used up\. It renews at midnight UTC.* Until then I cannot take new questions here\.$/);

  // A restarted bot counts from the store: still refused; another workspace's user is not.
  await bot.close();
  const restarted = await startBot(t, { env, dataDir: bot.dataDir, emulator: bot.emulator });
  assert.match((await restarted.ask("slack:T1:C1:14", alice, "now?")).error ?? "", /^Your daily budget of 1,000 model tokens is used up/);
  restarted.script([textStep("Hi Bob.", { inputTokens: 10, outputTokens: 5 })]);
  const allowed = await restarted.ask("slack:T2:C9:1", bob, "hi");
  assert.equal(allowed.text, "Hi Bob.");
  assert.equal(allowed.error, null);
});

for (const api of ["responses", "chat"] as const) {
  test(`${api}: a 429 is waited out as its Retry-After asks, within the turn's time, the thread told the model service is busy`, async (t) => {
    const bot = await startBot(t, { api, env: { THREADBOOK_TURN_TIMEOUT_S: "60" } });
    bot.script([rateLimitError({ "retry-after-ms": "150" }), codeStep("z = 3"), rateLimitError({ "retry-after": "0" }), textStep("z is 3.")]);
    const events: ProgressEvent[] = [];
    const reply = await bot.ask(`test:${api}:busy`, alice, "z?", events);
    assert.equal(reply.error, null);
    assert.equal(reply.text, "z is 3.");
    assert.deepEqual(events.filter((event) => event.type === "model-busy"), [
      { type: "model-busy", step: 1, retryInMs: 150 },
      { type: "model-busy", step: 2, retryInMs: 0 },
    ]);
    assert.equal(bot.emulator.requests.length, 4);
    // Only the steps that answered are in the ledger.
    const [total] = await bot.store.usageTotals({ sinceMs: 0, by: "user" });
    assert.equal(total?.steps, 2);
  });

  test(`${api}: a 429 asking for a wait longer than the turn has left ends the turn at once, saying so plainly`, async (t) => {
    const bot = await startBot(t, { api, env: { THREADBOOK_TURN_TIMEOUT_S: "30" } });
    bot.script([rateLimitError({ "retry-after": "120" })]);
    const events: ProgressEvent[] = [];
    const reply = await bot.ask(`test:${api}:too-busy`, alice, "z?", events);
    assert.equal(reply.limit, null);
    assert.match(reply.error ?? "", /^The model service is busy \(429\) and asked to wait 2 min 0 s, longer than this question has left \(\d+\.\d s\)\. Try again in a few minutes\.$/);
    assert.equal(events.some((event) => event.type === "model-busy"), false);
    assert.equal(bot.emulator.requests.length, 1);
    assert.equal((await bot.store.getTurn(reply.turnId ?? ""))?.status, "failed");
  });
}
