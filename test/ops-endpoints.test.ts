/**
 * The operator's endpoints in process, against real parts made to fail:
 * /readyz over a closed SQLite store and a Docker endpoint where nothing
 * listens; the metrics observer's counts as the core reports them; the
 * control socket's permissions, its refusals, and a socket a dead bot left;
 * and the log context that names a turn on every line, whichever logger writes it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Agent } from "../src/core/agent.ts";
import { SessionAdmin } from "../src/core/session-admin.ts";
import { addLogContext, createLogger, silentLogger, withLogContext } from "../src/log.ts";
import { startControlServer } from "../src/ops/control-server.ts";
import { ControlClient } from "../src/ops/control-client.ts";
import { Metrics } from "../src/ops/metrics.ts";
import { startOpsServer, type OpsServer } from "../src/ops/ops-server.ts";
import { connectDocker } from "../src/sandbox/docker/docker-sandbox.ts";
import { DockerSessionCensus } from "../src/sandbox/docker/docker-session-census.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";

let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), "tb-opsep-"));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

test("/readyz is 503 with a JSON body naming each part not ready (a closed store, a Docker nobody answers on, a platform not connected)", async () => {
  const store = openSqliteStore(join(root, "ready"));
  // Port 1 on loopback: nothing listens, so the engine does not answer.
  const deadDocker = new DockerSessionCensus({ docker: connectDocker("tcp://127.0.0.1:1"), instance: "tb-none", stats: () => ({ sessions: 0, warm: 0, adopted: 0 }) }, "tcp://127.0.0.1:1");
  let connected = true;
  const server = await startOpsServer({
    host: "127.0.0.1", port: 0, metrics: new Metrics(), logger: silentLogger,
    readiness: [
      { name: "store", check: () => store.ping() },
      { name: "docker", check: () => deadDocker.ping() },
      { name: "slack", check: () => Promise.resolve(connected) },
    ],
  });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    let response = await fetch(`${base}/readyz`);
    let body = (await response.json()) as { ready: boolean; notReady: { name: string; reason: string }[] };
    assert.equal(response.status, 503);
    assert.deepEqual(body.notReady.map((entry) => entry.name), ["docker"]);
    assert.match(body.notReady[0]?.reason ?? "", /Docker did not answer/);

    connected = false;
    await store.close();
    response = await fetch(`${base}/readyz`);
    body = (await response.json()) as typeof body;
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.deepEqual(body.notReady.map((entry) => entry.name), ["store", "docker", "slack"]);
    assert.equal(body.notReady[2]?.reason, "not connected");

    assert.equal((await fetch(`${base}/healthz`)).status, 200, "alive while not ready");
    const head = await fetch(`${base}/healthz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  } finally {
    await server.close();
  }
});

test("the observer's counts come out as Prometheus text: outcomes, durations, tokens (cached apart), restarts by reason, the gauges read at each scrape", async () => {
  const metrics = new Metrics();
  let waiting = 3;
  metrics.watch({ queueLength: () => waiting, sessions: () => ({ live: 5, warm: 2 }) });
  metrics.turnEnded("answered", 4.2);
  metrics.turnEnded("refused", null);
  metrics.cellEnded("timeout", 61);
  metrics.modelRequestEnded("ok", { inputTokens: 1200, outputTokens: 80, cachedInputTokens: 1024 });
  metrics.modelRequestEnded("ok", { inputTokens: 300, outputTokens: 20 });
  metrics.modelRequestEnded("abandoned", null);
  metrics.sessionRestarted("timeout");
  let families = parsePrometheusText(await metrics.text());
  assert.equal(sampleValue(families, "threadbook_turns_total", { outcome: "answered" }), 1);
  assert.equal(sampleValue(families, "threadbook_turns_total", { outcome: "refused" }), 1);
  assert.equal(sampleValue(families, "threadbook_turn_duration_seconds", { outcome: "answered" }, "threadbook_turn_duration_seconds_count"), 1);
  assert.equal(sampleValue(families, "threadbook_turn_duration_seconds", { outcome: "answered", le: "5" }, "threadbook_turn_duration_seconds_bucket"), 1);
  assert.equal(sampleValue(families, "threadbook_turn_duration_seconds", { outcome: "answered", le: "2.5" }, "threadbook_turn_duration_seconds_bucket"), 0);
  assert.throws(() => sampleValue(families, "threadbook_turn_duration_seconds", { outcome: "refused" }, "threadbook_turn_duration_seconds_count"), "a refused turn is not timed");
  assert.equal(sampleValue(families, "threadbook_cells_total", { outcome: "timeout" }), 1);
  assert.equal(sampleValue(families, "threadbook_cell_duration_seconds", { outcome: "timeout" }, "threadbook_cell_duration_seconds_sum"), 61);
  assert.equal(sampleValue(families, "threadbook_model_requests_total", { outcome: "ok" }), 2);
  assert.equal(sampleValue(families, "threadbook_model_requests_total", { outcome: "abandoned" }), 1);
  assert.equal(sampleValue(families, "threadbook_model_tokens_total", { type: "input" }), 1500);
  assert.equal(sampleValue(families, "threadbook_model_tokens_total", { type: "cached" }), 1024);
  assert.equal(sampleValue(families, "threadbook_model_tokens_total", { type: "output" }), 100);
  assert.equal(sampleValue(families, "threadbook_sandbox_restarts_total", { reason: "timeout" }), 1);
  assert.equal(sampleValue(families, "threadbook_sandbox_restarts_total", { reason: "died" }), 0);
  assert.equal(sampleValue(families, "threadbook_queue_length", {}), 3);
  assert.equal(sampleValue(families, "threadbook_sessions", { state: "live" }), 5);
  assert.equal(sampleValue(families, "threadbook_sessions", { state: "warm" }), 2);
  waiting = 0;
  families = parsePrometheusText(await metrics.text());
  assert.equal(sampleValue(families, "threadbook_queue_length", {}), 0, "a gauge is read at the scrape");
  const labelNames = new Set([...families.values()].flatMap((family) => family.samples.flatMap((sample) => Object.keys(sample.labels))));
  for (const name of labelNames) assert.ok(["outcome", "type", "reason", "state", "le", "version", "major", "minor", "patch", "space", "kind"].includes(name), `label ${name} names no user, conversation or workspace`);
});

test("the control socket is the owner's only, refuses what is not its protocol, replaces a socket a dead bot left, and stands aside for a live one", async () => {
  const dataDir = join(root, "control");
  const store = openSqliteStore(dataDir);
  const census = { liveSessions: () => Promise.resolve([]), counts: () => ({ live: 0, warm: 0 }), ping: () => Promise.resolve() };
  // No turn runs here, so the agent's model and sandbox are never asked.
  const agent = new Agent({ model: undefined as never, sandbox: { release: () => Promise.resolve() } as never, store, settings: agentSettings() });
  const admin = new SessionAdmin({ agent, store, census });
  // A socket file no process listens on, as a killed bot leaves it.
  const stale = createNetServer();
  await new Promise<void>((resolve) => stale.listen(join(dataDir, "control.sock"), resolve));
  await new Promise<void>((resolve) => stale.close(() => resolve()));
  writeFileSync(join(dataDir, "control.sock"), "");
  const server = await startControlServer(dataDir, admin, silentLogger);
  assert.ok(server !== null);
  try {
    assert.equal(statSync(server.path).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    assert.equal(await startControlServer(dataDir, admin, silentLogger), null, "a second bot on the same data directory stands aside");

    const client = new ControlClient(dataDir);
    assert.deepEqual(await client.sessions(), []);
    await assert.rejects(client.stop("slack:T:C:1.2"), (error: Error & { code?: string }) => error.code === "input_invalid" && /No conversation "slack:T:C:1.2" is known/.test(error.message));
    assert.equal((await raw(server.path, "POST", "/sessions/stop", "{\"conversation\": 7}")).status, 400);
    assert.equal((await raw(server.path, "POST", "/sessions/stop", "not json")).status, 400);
    assert.equal((await raw(server.path, "POST", "/sessions/reset", JSON.stringify({ conversation: "x".repeat(5000) }))).status, 413);
    assert.equal((await raw(server.path, "DELETE", "/sessions", "")).status, 404);
  } finally {
    await server.close();
    await store.close();
  }
  await assert.rejects(new ControlClient(dataDir).sessions(), /No threadbook bot is running with this data directory/);
});

test("within a turn's log context every line names its conversation and turn, from any logger, once each; outside it none does", () => {
  const file = join(root, "context.log");
  const logger = createLogger({ level: "debug", destination: file });
  const sandboxLogger = logger.child({ session: "s-1" });
  withLogContext({ conversation: "slack:T:C:1.2" }, () => {
    logger.info("claimed");
    addLogContext({ turn: "turn-1" });
    sandboxLogger.warn("a line from another layer");
    logger.child({ conversation: "slack:T:C:1.2", turn: "turn-1" }).info("bound by a child");
  });
  logger.info("outside");
  logger.flush();
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(parsed.map((line) => [line["msg"], line["conversation"], line["turn"]]), [
    ["claimed", "slack:T:C:1.2", undefined],
    ["a line from another layer", "slack:T:C:1.2", "turn-1"],
    ["bound by a child", "slack:T:C:1.2", "turn-1"],
    ["outside", undefined, undefined],
  ]);
  for (const line of lines) assert.ok((line.match(/"conversation":/g) ?? []).length <= 1, line);
});

function agentSettings() {
  return {
    turn: { maxSteps: 4, maxCells: 4, timeoutMs: 60_000, maxTokens: 0, historyChars: 1000 },
    reply: { maxFiles: 1, maxFileBytes: 1024 },
    capacity: { maxTurns: 1, maxCells: 1, maxQueued: 1, userMaxTurns: 1, userTurnsPerHour: 0 },
    model: { images: false },
    sandbox: { cellTimeoutMs: 1000 },
    skills: { autoApprove: false },
    usage: { userTokensPerDay: 0, workspaceTokensPerDay: 0 },
  };
}

function raw(socketPath: string, method: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const call = request({ socketPath, method, path, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (response) => {
      let text = "";
      response.setEncoding("utf8").on("data", (chunk: string) => { text += chunk; });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    call.on("error", reject);
    call.end(body);
  });
}
