/** The settings: defaults, one line per bad value, and the settings that cannot work together. */
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail(`the settings ${JSON.stringify(env)} were accepted`);
}

test("an empty environment loads the defaults", () => {
  const config = loadConfig({});
  assert.deepEqual(config.model, {
    apiKey: undefined,
    baseURL: undefined,
    name: "gpt-5.1",
    api: "responses",
    stream: false,
    images: true,
    timeoutMs: 120_000,
    maxRetries: 2,
  });
  assert.equal(config.dataDir, resolve("./data"));
  assert.equal(config.logLevel, "info");
  assert.deepEqual(config.turn, { maxSteps: 24, maxCells: 16, timeoutMs: 600_000, maxTokens: 400_000, historyChars: 24_000 });
  assert.deepEqual(config.sandbox, {
    instance: "threadbook",
    image: undefined,
    runtime: undefined,
    memoryMb: 1024,
    cpus: 1,
    pids: 128,
    diskMb: 512,
    fileMb: 256,
    poolSize: 2,
    idleTtlMs: 3_600_000,
    cellTimeoutMs: 60_000,
    outputBytes: 64 * 1024,
    dockerHost: undefined,
  });
  assert.deepEqual(config.reply, { maxFiles: 20, maxFileBytes: 25 * 1024 * 1024 });
});

test("values are read as the .env file writes them, empty ones as unset", () => {
  const config = loadConfig({
    OPENAI_BASE_URL: "",
    THREADBOOK_SANDBOX_RUNTIME: "",
    THREADBOOK_MODEL_STREAM: "yes",
    THREADBOOK_CELL_TIMEOUT_S: "2.5",
    DOCKER_HOST: "tcp://127.0.0.1:2375",
  });
  assert.equal(config.model.baseURL, undefined);
  assert.equal(config.sandbox.runtime, undefined);
  assert.equal(config.model.stream, true);
  assert.equal(config.sandbox.cellTimeoutMs, 2_500);
  assert.equal(config.sandbox.dockerHost, "tcp://127.0.0.1:2375");
  assert.equal(loadConfig({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }).sandbox.dockerHost, "unix:///run/user/1000/docker.sock");
});

test("each bad value gets its own line, naming its variable", () => {
  const bad: Record<string, string> = {
    OPENAI_BASE_URL: "not a url",
    THREADBOOK_MODEL_API: "soap",
    THREADBOOK_MODEL_STREAM: "maybe",
    THREADBOOK_CELL_TIMEOUT_S: "-1",
    THREADBOOK_TURN_MAX_CELLS: "1.5",
    THREADBOOK_INSTANCE: "Not_Allowed",
    THREADBOOK_SANDBOX_MEMORY_MB: "32",
    THREADBOOK_OUTPUT_KB: "0",
    THREADBOOK_LOG_LEVEL: "loud",
    DOCKER_HOST: "ssh://user@host",
  };
  const problems = problemsOf(bad);
  assert.equal(problems.length, Object.keys(bad).length, problems.join("\n"));
  for (const variable of Object.keys(bad)) {
    assert.equal(problems.filter((problem) => problem.startsWith(`${variable}: `)).length, 1, `one line names ${variable}:\n${problems.join("\n")}`);
  }
  assert.ok(problems.includes("THREADBOOK_MODEL_API: must be 'responses' or 'chat'"));
  assert.ok(problems.includes("DOCKER_HOST: must be unix:///path/to/docker.sock or tcp://host:port (plain TCP; TLS and ssh:// are not supported)"));
});

test("the idle time must exceed a cell's and a model answer's time together, so a session in use is never reaped", () => {
  assert.deepEqual(problemsOf({ THREADBOOK_SANDBOX_IDLE_TTL_S: "180" }), [
    "THREADBOOK_SANDBOX_IDLE_TTL_S: must be greater than THREADBOOK_CELL_TIMEOUT_S + THREADBOOK_MODEL_TIMEOUT_S (60 + 120 = 180 s; it is 180 s), or a session in use could be removed as idle",
  ]);
  assert.equal(loadConfig({ THREADBOOK_SANDBOX_IDLE_TTL_S: "181" }).sandbox.idleTtlMs, 181_000);

  // Long cells and slow models need a longer idle time than the default.
  const slow = { THREADBOOK_CELL_TIMEOUT_S: "3000", THREADBOOK_MODEL_TIMEOUT_S: "900" };
  const problems = problemsOf(slow);
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? "", /^THREADBOOK_SANDBOX_IDLE_TTL_S: .*\(3000 \+ 900 = 3900 s; it is 3600 s\)/);
  assert.equal(loadConfig({ ...slow, THREADBOOK_SANDBOX_IDLE_TTL_S: "4000" }).sandbox.cellTimeoutMs, 3_000_000);
});
