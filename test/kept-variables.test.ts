/**
 * A conversation's variables outlive the container that held them: saved
 * after each turn (inside the sandbox), kept in the store, put back into a
 * new session, with the names that could not come back said to the model and
 * the user. Real Docker, real SQLite, the real SDK against the emulator.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test, type TestContext } from "node:test";
import Docker from "dockerode";
import { loadConfig } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import { SESSION_LOST_NOTE, SESSION_REPLACED_NOTE } from "../src/core/session-continuity.ts";
import type { Turn } from "../src/core/turn.ts";
import { sessionContainerName, type DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, startOpenAIServer, textStep, type ScriptEntry } from "./emulators/openai-server.ts";
import { toolOutputs, userTexts } from "./support/recorded-requests.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const apiKey = "sk-test-variables-0123456789";
const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-variables-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 1 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

async function harness(t: TestContext, env: Record<string, string> = {}) {
  const dataDir = join(dataRoot, randomBytes(4).toString("hex"));
  const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, ...env });
  const emulator = await startOpenAIServer({ apiKey });
  const store = openSqliteStore(dataDir);
  const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", api: "responses", maxRetries: 0, timeoutMs: 20_000, stream: false });
  const agent = new Agent({ model, sandbox, store, settings: config });
  const conversationKey = `test:${randomBytes(4).toString("hex")}`;
  t.after(async () => {
    agent.interrupt();
    await agent.idle();
    await sandbox.release(conversationKey);
    await store.close();
    await emulator.stop();
    emulator.assertDone();
  });
  const turn = (text: string): Turn => ({ conversationKey, user: { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" }, text, attachments: [] });
  const script = (steps: ScriptEntry[]) => emulator.script(steps);
  const killContainer = () => new Docker().getContainer(sessionContainerName(instance, conversationKey)).kill();
  return { agent, store, emulator, turn, script, killContainer, conversationKey };
}

const setUp = `import pandas as pd, numpy as np, socket
from sklearn.linear_model import LinearRegression
df = pd.DataFrame({"x": np.arange(100_000), "y": np.arange(100_000) * 2.0})
model = LinearRegression().fit(df[["x"]], df["y"])
lookup = {i: str(i) for i in range(10_000)}
handle = open("notes.txt", "w")
sock = socket.socket()
len(df)`;

test("variables set in one turn are back after the container is killed; an open file and a socket are named, the rest come back", async (t) => {
  const h = await harness(t);
  h.script([codeStep(setUp), textStep("set"), codeStep("(len(df), round(float(model.coef_[0]), 3), lookup[9999], pd.__name__)"), textStep("back")]);
  const first = await h.agent.handle(h.turn("Set up"));
  assert.equal(first.cells[0]?.value, "100000", JSON.stringify({ error: first.error, cell: first.cells[0] }));
  await h.agent.idle(); // the variables are saved after the reply
  await h.killContainer();
  const back = await h.agent.handle(h.turn("Still there?"));
  assert.equal(back.cells[0]!.error, null, back.cells[0]!.error ?? "");
  assert.equal(back.cells[0]!.value, "(100000, 2.0, '9999', 'pandas')");
  const told = userTexts(h.emulator.requests.at(-2)!).join("\n");
  assert.ok(told.includes(SESSION_REPLACED_NOTE));
  assert.match(told, /put back into the new session \(modules imported again\): .*`df`.*`lookup`.*`model`/);
  assert.match(told, /could not be put back; recreate them if needed:\n(- (handle|sock): .*\n?){2}/);
  assert.match(back.text, /^back\n\n\(The Python session was restarted; variables put back: .*`df`.*; not put back: `handle`, `sock`\.\)$/);
});

test("a kernel killed in the middle of a turn gets the previous turn's variables back, files kept", async (t) => {
  const h = await harness(t);
  h.script([codeStep("total = 41\nopen('made.txt', 'w').write('kept')"), textStep("one"), codeStep("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), codeStep("(total + 1, open('made.txt').read())"), textStep("two")]);
  await h.agent.handle(h.turn("One"));
  await h.agent.idle();
  const two = await h.agent.handle(h.turn("Two"));
  assert.match(two.cells[0]!.error ?? "", /variables are gone; the files in the working directory are kept/);
  assert.equal(two.cells[1]!.value, "(42, 'kept')");
  const results = toolOutputs(h.emulator.requests.at(-2)!).join("\n");
  assert.match(results, /put back into the new session \(modules imported again\): `total`/);
});

test("variables over THREADBOOK_SNAPSHOT_MB are not kept, and the model is told", async (t) => {
  const h = await harness(t, { THREADBOOK_SNAPSHOT_MB: "1" });
  h.script([codeStep("big = bytes(3 * 1024 * 1024)\nsmall = 1"), textStep("set"), codeStep("'big' in globals()"), textStep("gone")]);
  await h.agent.handle(h.turn("Set"));
  await h.agent.idle();
  const kept = await h.store.loadSnapshot(h.conversationKey);
  assert.equal(kept?.data, null);
  await h.killContainer();
  const back = await h.agent.handle(h.turn("Still there?"));
  assert.equal(back.cells[0]!.value, "False");
  const told = userTexts(h.emulator.requests.at(-2)!).join("\n");
  assert.ok(told.includes(SESSION_LOST_NOTE));
  assert.match(told, /The variables took more than 1 MB \(THREADBOOK_SNAPSHOT_MB\), so they were not kept\./);
});
