/**
 * The Docker engine restarted under the bot, on an engine the test started
 * itself (never the machine's own): a cell running then ends with a plain,
 * retryable message; warm containers that died with the engine are dropped;
 * once the engine is back the next session starts and runs, with no restart
 * of the sandbox.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SandboxError } from "../src/errors.ts";
import { currentImageTag } from "../src/sandbox/docker/image.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { startSecondEngine, type SecondEngine } from "./support/second-engine.ts";
import { startTestSandbox, testInstance } from "./support/sandbox.ts";

let engine: SecondEngine;
let sandbox: DockerSandbox;

before(async () => {
  engine = await startSecondEngine({ image: currentImageTag() });
  sandbox = await startTestSandbox({ instance: testInstance(), dockerHost: engine.host, poolSize: 1, cellTimeoutMs: 60_000 });
  await sandbox.warmUp();
});

after(async () => {
  await sandbox?.close();
  await engine?.remove();
});

test("an engine restarted while a cell runs and while the pool is warm: a plain message, then the next session works", async () => {
  const session = await sandbox.acquire("engine-restart");
  assert.equal((await session.run("x = 1\nx")).value, "1");
  await sandbox.warmUp(); // a warm container waits in the pool as the engine goes
  assert.equal(sandbox.stats().warm, 1);
  const running = session.run("import time\ntime.sleep(50)").then(
    (result) => ({ result, error: null }),
    (error: unknown) => ({ result: null, error }),
  );
  await engine.stop();
  const outcome = await running;
  // Either the cell comes back saying its session was lost, or the restart it tried failed as Docker not answering: plain and retryable.
  if (outcome.error !== null) {
    assert.ok(outcome.error instanceof SandboxError, String(outcome.error));
    assert.equal(outcome.error.retryable, true);
    assert.doesNotMatch(outcome.error.message, /unix:|\/tmp\/|sock/, "the message names no host or path");
  } else {
    assert.equal(outcome.result?.stateLost, true);
  }
  session.idle();
  await engine.start();
  // The warm container died with the engine; the sandbox drops it and starts a new one.
  const again = await sandbox.acquire("engine-restart");
  const result = await again.run("1 + 1");
  assert.equal(result.value, "2");
  again.idle();
  const other = await sandbox.acquire("engine-restart-other");
  assert.equal((await other.run("'fresh'")).value, "'fresh'");
  other.idle();
});
