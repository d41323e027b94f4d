/**
 * The watchdog under a turn: a cell whose session neither answers nor reacts
 * to a stop (a wedged engine, say) cannot hold a turn slot for ever. The
 * turn is stopped, then abandoned with a plain message, its session ended,
 * and the next turn gets the slot. The model is the real SDK against the
 * emulator, the store real SQLite; the sandbox is one that never answers a
 * cell, which is the fault under test.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../src/config.ts";
import { Agent, stalledMessage } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { Turn } from "../src/core/turn.ts";
import type { CellResult, Sandbox, Session } from "../src/sandbox/sandbox.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, startOpenAIServer, textStep } from "./emulators/openai-server.ts";

const apiKey = "sk-test-watchdog-0123456789";

/** A session whose cells never come back, whatever stops them; everything else answers. */
function wedgedSandbox() {
  const released: string[] = [];
  let cellsStarted = 0;
  const session = (conversationKey: string): Session => ({
    conversationKey,
    id: "wedged",
    origin: "new",
    pythonVersion: "3.11.2",
    run: () => {
      cellsStarted += 1;
      return new Promise<CellResult>(() => {});
    },
    putFiles: () => Promise.resolve([]),
    getFiles: () => Promise.resolve([]),
    listFiles: () => Promise.resolve([]),
    previewFiles: () => Promise.resolve([]),
    snapshot: () => Promise.resolve({ data: null, saved: [], skipped: [], overLimit: false }),
    restore: () => Promise.resolve({ restored: [], failed: [] }),
    idle: () => {},
  });
  const sandbox: Sandbox = {
    acquire: (key) => Promise.resolve(session(key)),
    release: (key) => {
      released.push(key);
      return Promise.resolve();
    },
    detach: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return { sandbox, released, cellsStarted: () => cellsStarted };
}

test("a turn wedged in a cell is stopped, then abandoned with a plain message, its session ended and its slot freed", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-watchdog-"));
  const emulator = await startOpenAIServer({ apiKey });
  const store = openSqliteStore(dataDir);
  try {
    const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_MAX_TURNS: "1" });
    const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", api: "responses", maxRetries: 0, timeoutMs: 20_000, stream: false });
    const wedged = wedgedSandbox();
    const agent = new Agent({ model, sandbox: wedged.sandbox, store, settings: config, watchdogMs: 300 });
    const turn = (text: string): Turn => ({ conversationKey: "test:wedged", user: { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" }, text, attachments: [] });
    emulator.script([codeStep("import time\ntime.sleep(3600)"), textStep("two")]);

    const first = agent.handle(turn("wedge it"));
    // With one turn slot, the second turn can only run once the first has let go of it.
    const second = agent.handle(turn("and now?"));
    const stalled = await first;
    assert.equal(stalled.error, stalledMessage);
    assert.equal(wedged.cellsStarted(), 1);
    assert.deepEqual(wedged.released, ["test:wedged"], "the stalled turn's session was ended");
    const next = await second;
    assert.equal(next.error, null);
    assert.equal(next.text, "two");
    agent.interrupt();
    await agent.idle();
    emulator.assertDone();
  } finally {
    await store.close();
    await emulator.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
