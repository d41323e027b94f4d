/**
 * `threadbook export`: a conversation asked through the real CLI (the
 * scripted model, a real Docker sandbox, the real SQLite store), written as
 * a notebook that the real nbformat validates and reads back with exactly
 * its cells and outputs; a conversation that does not exist is a usage
 * error that names it, and nothing is written.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startOpenAIServer, type OpenAIServer } from "./emulators/openai-server.ts";
import { mainScript } from "./support/contract-process.ts";
import { readNotebook } from "./support/nbformat-check.ts";
import { assertScenarioNotebook, scenarioCsv, scenarioFileName, scenarioQuestion, scenarioSteps } from "./support/notebook-scenario.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";

const apiKey = "sk-test-export-0123456789";
const instance = testInstance();
let root: string;
let model: OpenAIServer;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "threadbook-export-"));
  model = await startOpenAIServer({ apiKey });
});

after(async () => {
  await model.stop();
  await removeInstance(instance);
  rmSync(root, { recursive: true, force: true });
  model.assertDone();
});

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function threadbook(args: string[], cwd: string): Promise<Run> {
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? root,
    OPENAI_API_KEY: apiKey,
    OPENAI_BASE_URL: model.baseURL,
    THREADBOOK_MODEL: "gpt-test",
    THREADBOOK_MODEL_MAX_RETRIES: "0",
    THREADBOOK_DATA_DIR: join(root, "data"),
    THREADBOOK_INSTANCE: instance,
    THREADBOOK_SANDBOX_POOL_SIZE: "1",
    THREADBOOK_SANDBOX_MEMORY_MB: "384",
    THREADBOOK_CELL_TIMEOUT_S: "30",
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainScript, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }));
  });
}

test("export writes the conversation as a notebook nbformat validates: the question, a failing and a fixed cell, a DataFrame, a figure, the file and the answer", async () => {
  const user = mkdtempSync(join(root, "user-"));
  writeFileSync(join(user, scenarioFileName), scenarioCsv);
  model.script(scenarioSteps());
  const asked = await threadbook(["ask", scenarioQuestion, "--file", scenarioFileName, "--conversation", "sales"], user);
  assert.equal(asked.code, 0, asked.stderr);

  const out = join(user, "sales-notebook.ipynb");
  const exported = await threadbook(["export", "sales", "--out", out], user);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stdout.toString(), `Wrote ${out} (1 question, 4 code cells).\n`);
  assertScenarioNotebook(readNotebook(readFileSync(out)), userInfo().username);

  // By its full key too, and to stdout with --out -.
  const piped = await threadbook(["export", "cli:sales", "--out", "-"], user);
  assert.equal(piped.code, 0, piped.stderr);
  assert.deepEqual(piped.stdout, readFileSync(out));

  // Without --out: <title>.ipynb where it runs, never over a file already there.
  const here = mkdtempSync(join(root, "here-"));
  for (const expected of ["which-region-sold-the-most-plot-it.ipynb", "which-region-sold-the-most-plot-it-2.ipynb"]) {
    const beside = await threadbook(["export", "sales"], here);
    assert.equal(beside.code, 0, beside.stderr);
    assert.equal(beside.stdout.toString(), `Wrote ${join(here, expected)} (1 question, 4 code cells).\n`);
  }
  assert.deepEqual(readdirSync(here).sort(), ["which-region-sold-the-most-plot-it-2.ipynb", "which-region-sold-the-most-plot-it.ipynb"]);
  assert.deepEqual(readFileSync(join(here, "which-region-sold-the-most-plot-it.ipynb")), readFileSync(out));
});

test("export of a conversation that does not exist is a usage error naming it, and writes nothing", async () => {
  const here = mkdtempSync(join(root, "missing-"));
  const out = join(here, "never.ipynb");
  const named = await threadbook(["export", "no-such-thread", "--out", out], here);
  assert.equal(named.code, 2);
  assert.match(named.stderr, /No conversation "no-such-thread"/);
  assert.equal(named.stdout.length, 0);
  assert.equal(existsSync(out), false);
  const beside = await threadbook(["export", "slack:T1:C1:1700000000.000100"], here);
  assert.equal(beside.code, 2);
  assert.match(beside.stderr, /No conversation "slack:T1:C1:1700000000\.000100"/);
  assert.deepEqual(readdirSync(here), []);
  const bare = await threadbook(["export"], here);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /Missing the conversation/);
});
