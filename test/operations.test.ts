/**
 * Operating a running bot: the real `threadbook start` in a child process
 * against the Slack emulator (Socket Mode) and the scripted model, with
 * THREADBOOK_METRICS_PORT=0. Real HTTP requests to /healthz, /readyz and
 * /metrics (parsed as Prometheus text; the values move with the turns),
 * `threadbook sessions` and `threadbook audit` run as other processes beside
 * it, and everything the bot logged, at trace level, grepped for the test's
 * secrets.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { codeStep, startOpenAIServer, textStep, type OpenAIServer } from "./emulators/openai-server.ts";
import { SlackServer } from "./emulators/slack-server.ts";
import { BotProcess } from "./support/bot-process.ts";
import { parsePrometheusText, sampleValue, type Family } from "./support/prometheus-text.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";
import { ada, botUserId, channel, team, userPost } from "./support/slack-harness.ts";
import { until } from "./support/until.ts";

const secrets = {
  botToken: `xoxb-${randomBytes(12).toString("hex")}`,
  appToken: `xapp-${randomBytes(12).toString("hex")}`,
  signingSecret: `signing-${randomBytes(12).toString("hex")}`,
  apiKey: `sk-test-${randomBytes(12).toString("hex")}`,
};
/** Code whose comment holds a terminal escape (set the window title), a bell and a C1 control: the audit must print them inert. */
const hostileComment = "# \u001b]0;owned\u0007 \u009b2J";
const firstCode = `print(6 * 7)  ${hostileComment}`;
const sleepingCode = "import time\ntime.sleep(120)";

const instance = testInstance();
let root: string;
let slack: SlackServer;
let model: OpenAIServer;
let bot: BotProcess;
let metricsUrl: string;
let thread: string;
let conversation: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "tb-ops-"));
  slack = await SlackServer.start({ botToken: secrets.botToken, appToken: secrets.appToken, teamId: team, botUserId });
  model = await startOpenAIServer({ apiKey: secrets.apiKey });
  bot = new BotProcess({
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? root,
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
    OPENAI_API_KEY: secrets.apiKey,
    OPENAI_BASE_URL: model.baseURL,
    THREADBOOK_MODEL: "gpt-test",
    THREADBOOK_MODEL_MAX_RETRIES: "0",
    THREADBOOK_DATA_DIR: join(root, "data"),
    THREADBOOK_INSTANCE: instance,
    THREADBOOK_SANDBOX_POOL_SIZE: "1",
    THREADBOOK_SANDBOX_MEMORY_MB: "384",
    THREADBOOK_SHUTDOWN_GRACE_S: "5",
    THREADBOOK_LOG_LEVEL: "trace",
    THREADBOOK_METRICS_PORT: "0",
    SLACK_BOT_TOKEN: secrets.botToken,
    SLACK_APP_TOKEN: secrets.appToken,
    SLACK_SIGNING_SECRET: secrets.signingSecret,
    SLACK_API_URL: slack.apiUrl,
  }, root);
  const listening = await bot.logged((line) => line["msg"] === "metrics listening");
  assert.equal(listening["host"], "127.0.0.1", "bound to loopback unless THREADBOOK_METRICS_HOST says otherwise");
  metricsUrl = `http://127.0.0.1:${String(listening["port"])}`;
});

after(async () => {
  await bot?.stop().catch(() => undefined);
  await removeInstance(instance);
  await model?.stop();
  await slack?.stop().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
});

test("/healthz answers, /readyz names store, Docker and Slack ready, and a scrape shows the process defaults at zero turns", async () => {
  const health = await fetch(`${metricsUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(await health.text(), "ok\n");

  const ready = await fetch(`${metricsUrl}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true, notReady: [] });

  const metrics = await scrape();
  assert.equal(sample(metrics, "threadbook_turns_total", { outcome: "answered" }), 0);
  assert.equal(sample(metrics, "threadbook_queue_length", {}), 0);
  for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_seconds"]) {
    assert.ok(metrics.has(name), `the process default ${name} is there`);
  }
  assert.equal((await fetch(`${metricsUrl}/nothing`)).status, 404);
  assert.equal((await fetch(`${metricsUrl}/metrics`, { method: "POST" })).status, 405);
});

test("a turn with a cell moves the metrics: turns, cells, both histograms, model requests and tokens, live sessions; no label names a user, a conversation or a workspace", async () => {
  model.script([codeStep(firstCode), textStep("It is 42.")]);
  thread = slack.nextTs();
  await slack.deliver(userPost({ text: `<@${botUserId}> what is six times seven?`, ts: thread }));
  await slack.waitForCall("chat.stopStream");
  // The reply is posted as the turn ends; the turn is counted as the agent hands the reply back, a moment later.
  const metrics = await eventually(scrape, (families) => sample(families, "threadbook_turns_total", { outcome: "answered" }) >= 1, "the answered turn is counted");

  assert.equal(sample(metrics, "threadbook_turns_total", { outcome: "answered" }), 1);
  assert.equal(sample(metrics, "threadbook_turns_total", { outcome: "failed" }), 0);
  assert.equal(sample(metrics, "threadbook_cells_total", { outcome: "ok" }), 1);
  assert.equal(histogramCount(metrics, "threadbook_cell_duration_seconds", { outcome: "ok" }), 1);
  assert.equal(histogramCount(metrics, "threadbook_turn_duration_seconds", { outcome: "answered" }), 1);
  assert.equal(sample(metrics, "threadbook_model_requests_total", { outcome: "ok" }), 2);
  assert.ok(sample(metrics, "threadbook_model_tokens_total", { type: "input" }) > 0);
  assert.ok(sample(metrics, "threadbook_model_tokens_total", { type: "output" }) > 0);
  // The second step repeats the first's request as its prefix, which the emulator caches as the API does.
  assert.ok(sample(metrics, "threadbook_model_tokens_total", { type: "cached" }) > 0);
  assert.equal(sample(metrics, "threadbook_sandbox_restarts_total", { reason: "died" }), 0);
  assert.ok(sample(metrics, "threadbook_sessions", { state: "live" }) >= 1, "the conversation's session is live");
  assert.ok(sample(metrics, "threadbook_sessions", { state: "warm" }) >= 0);
  assert.equal(metrics.get("threadbook_turn_duration_seconds")?.type, "histogram");
  assert.equal(metrics.get("threadbook_turns_total")?.type, "counter");
  assert.equal(metrics.get("threadbook_queue_length")?.type, "gauge");

  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  for (const id of [team, channel, ada, thread, botUserId]) assert.ok(!text.includes(id), `no metric names ${id}`);
});

test("threadbook sessions, run beside the bot, lists the live session; sessions stop ends a running turn through the core and the thread says an operator stopped it", async () => {
  const listed = await bot.run(["sessions", "--json"], root);
  assert.equal(listed.code, 0, listed.stderr);
  const sessions = listed.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  const ours = sessions.find((session) => String(session["conversation"]).includes(thread));
  assert.ok(ours !== undefined, `the conversation's session is listed: ${listed.stdout}`);
  conversation = String(ours["conversation"]);
  assert.equal(ours["host"], "local");
  assert.equal(ours["running"], false);
  assert.ok(typeof ours["memoryBytes"] === "number" && ours["memoryBytes"] > 0, "its memory is read from Docker");
  assert.equal(ours["memoryLimitBytes"], 384 * 1024 * 1024);
  assert.ok(typeof ours["idleMs"] === "number" && ours["idleMs"] >= 0);

  const table = await bot.run(["sessions"], root);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^CONVERSATION\s+HOST\s+MEMORY\s+IDLE\s+SESSION$/m);
  assert.ok(table.stdout.includes(conversation));

  const socket = join(root, "data", "control.sock");
  assert.equal(statSync(socket).mode & 0o777, 0o600, "only the bot's user may use the control socket");

  model.script([codeStep(sleepingCode)]);
  const requestsBefore = model.requests.length;
  await slack.deliver(userPost({ type: "message", channelType: "channel", text: "now wait a while", ts: slack.nextTs(), threadTs: thread }));
  await until(() => model.requests.length > requestsBefore && slack.calls.some((call) => JSON.stringify(call.args).includes("time.sleep(120)")), "the sleeping cell runs", 60_000);

  const stopped = await bot.run(["sessions", "stop", conversation], root);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /^Stopped its running turn and ended the session of /);
  await until(() => JSON.stringify(slack.thread(channel, thread)).includes("Stopped by an operator while cell 1 ran."), "the thread says an operator stopped the turn", 60_000);

  const after = await bot.run(["sessions", "--json"], root);
  assert.equal(after.code, 0, after.stderr);
  assert.ok(!after.stdout.includes(conversation), "its session is gone");

  const unknown = await bot.run(["sessions", "reset", "slack:nobody"], root);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /No conversation "slack:nobody" is known/);
  const reset = await bot.run(["sessions", "reset", conversation], root);
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /^Reset /);

  const metrics = await scrape();
  assert.equal(sample(metrics, "threadbook_turns_total", { outcome: "stopped" }), 1);
});

test("threadbook audit reads who ran what from the store the bot wrote: a table with escapes made inert, JSON Lines, and the filters", async () => {
  const lines = await bot.run(["audit", "--json"], root);
  assert.equal(lines.code, 0, lines.stderr);
  const records = lines.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(records.length, 2, lines.stdout);
  const [first, second] = records as [Record<string, unknown>, Record<string, unknown>];
  assert.equal(first["user"], `slack:${ada}`);
  assert.equal(first["workspace"], team);
  assert.equal(first["conversation"], conversation);
  assert.equal(first["code"], firstCode, "the whole code, byte for byte, once parsed");
  assert.equal(first["outcome"], "ok");
  assert.equal(typeof first["durationMs"], "number");
  assert.match(String(first["startedAt"]), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.equal(second["code"], sleepingCode);
  assert.notEqual(second["outcome"], "ok");
  assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(lines.stdout.replace(/\n/g, "")), "no raw control character reaches the terminal");

  const table = await bot.run(["audit"], root);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^WHEN \(UTC\)\s+USER\s+WORKSPACE\s+CONVERSATION\s+OUTCOME\s+TOOK\s+CODE$/m);
  assert.ok(table.stdout.includes("print(6 * 7)  # \\x1b]0;owned\\x07 \\x9b2J"), table.stdout);
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(table.stdout), "the table holds no raw control character");
  assert.match(table.stdout, /2 cell runs\.\n$/);

  assert.equal((await bot.run(["audit", "--json", "--user", ada], root)).stdout.trim().split("\n").length, 2);
  assert.equal((await bot.run(["audit", "--json", "--user", `slack:${ada}`, "--conversation", conversation], root)).stdout.trim().split("\n").length, 2);
  assert.equal((await bot.run(["audit", "--json", "--user", "slack:UNOBODY"], root)).stdout, "");
  assert.equal((await bot.run(["audit", "--json", "--since", "2999-01-01"], root)).stdout, "");
  assert.equal((await bot.run(["audit", "--conversation", "slack:none"], root)).stdout, "No cell runs match.\n");
  const bad = await bot.run(["audit", "--since", "yesterday"], root);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since takes a span before now/);
});

test("/readyz turns 503 and names Slack when its connection is gone; on SIGTERM the bot exits and removes its control socket; nothing it logged holds a secret, and every line of a turn names its conversation and turn", async () => {
  await slack.stop();
  const ready = await eventually(() => fetch(`${metricsUrl}/readyz`), (response) => response.status !== 200, "readiness sees the socket gone");
  assert.equal(ready.status, 503);
  const report = (await ready.json()) as { ready: boolean; notReady: { name: string; reason: string }[] };
  assert.equal(report.ready, false);
  assert.deepEqual(report.notReady.map((entry) => entry.name), ["slack"]);

  assert.equal(await bot.stop(), 0, "a bot that stopped cleanly on SIGTERM exits 0");
  assert.ok(!existsSync(join(root, "data", "control.sock")), "the control socket is removed on exit");

  const logged = bot.stderr;
  assert.ok(logged.length > 0);
  for (const [name, secret] of Object.entries(secrets)) assert.ok(!logged.includes(secret), `the log holds no ${name}`);

  const lines = bot.logLines();
  const turnLines = lines.filter((line) => line["turn"] !== undefined);
  assert.ok(turnLines.length >= 6, "the turns logged lines of their own");
  for (const line of turnLines) assert.equal(typeof line["conversation"], "string", `a turn's line names its conversation: ${JSON.stringify(line)}`);
  const turnIds = new Set(turnLines.map((line) => line["turn"]));
  assert.equal(turnIds.size, 2, "two turns ran");
  for (const message of ["session ready", "cell ran", "turn finished", "turn stopped"]) {
    assert.ok(lines.some((line) => line["msg"] === message && typeof line["turn"] === "string" && line["conversation"] === conversation), `"${message}" names its conversation and turn`);
  }
  for (const line of logged.split("\n").filter((text) => text.startsWith("{"))) {
    assert.ok((line.match(/"conversation":/g) ?? []).length <= 1, `one conversation field a line: ${line}`);
  }
});

/** Reads until `done` holds, every 20 ms; fails after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type Families = Map<string, Family>;

async function scrape(): Promise<Families> {
  const response = await fetch(`${metricsUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

function sample(families: Families, name: string, labels: Record<string, string>): number {
  return sampleValue(families, name, labels);
}

function histogramCount(families: Families, name: string, labels: Record<string, string>): number {
  return sampleValue(families, name, labels, `${name}_count`);
}
