/**
 * The notebook is built from the store, not from what the model is sent:
 * cells the trimmed history leaves out of a later request are still in it.
 * A real Agent, Docker sandbox and SQLite store, and the scripted model.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, startOpenAIServer, textStep } from "./emulators/openai-server.ts";
import { readNotebook } from "./support/nbformat-check.ts";
import { codeCalls } from "./support/recorded-requests.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const apiKey = "sk-test-notebook-0123456789";
const instance = testInstance();
let sandbox: DockerSandbox;
let root: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "threadbook-notebook-core-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(root, { recursive: true, force: true });
});

test("cells the model's trimmed history leaves out are still in the notebook, each turn in order", async (t) => {
  const config = loadConfig({ THREADBOOK_DATA_DIR: root, THREADBOOK_HISTORY_CHARS: "200" });
  const model = await startOpenAIServer({ apiKey });
  const store = openSqliteStore(root);
  t.after(async () => {
    await sandbox.release("cli:notebook");
    await store.close();
    await model.stop();
    model.assertDone();
  });
  const client = createModelClient({ ...config.model, apiKey, baseURL: model.baseURL, name: "gpt-test", api: "responses", maxRetries: 0, timeoutMs: 20_000, stream: true });
  const agent = new Agent({ model: client, sandbox, store, settings: config });
  const user = { platform: "cli", id: "ada", workspace: null, displayName: "ada" };
  const firstCode = `rows = list(range(1000))\nprint(${JSON.stringify("a long first look ".repeat(30))})`;
  model.script([codeStep(firstCode), textStep("A thousand rows."), codeStep("len(rows)"), textStep("Still 1000.")]);
  await agent.handle({ conversationKey: "cli:notebook", user, text: "Make the rows", attachments: [] });
  await agent.handle({ conversationKey: "cli:notebook", user, text: "How many?", attachments: [] });
  assert.ok(!codeCalls(model.requests[2]!).includes(firstCode), "the second turn's request left the first cell out");

  const notebook = await agent.exportNotebook("cli:notebook");
  assert.equal(notebook?.name, "make-the-rows.ipynb");
  const read = readNotebook(notebook!.data);
  assert.deepEqual(read.cells.map((cell) => [cell.id, cell.source.split("\n")[0]]), [
    ["question-1", "**ada** asked:"],
    ["cell-1", "rows = list(range(1000))"],
    ["answer-1", "A thousand rows."],
    ["question-2", "**ada** asked:"],
    ["cell-2", "len(rows)"],
    ["answer-2", "Still 1000."],
  ]);
  assert.equal(read.cells[1]?.outputs?.[0]?.text, `${"a long first look ".repeat(30)}\n`);
  assert.deepEqual(read.cells[4]?.outputs?.map((output) => [output.output_type, output.data?.["text/plain"], output.data?.["text/html"]]), [["execute_result", "1000", undefined]]);
  assert.equal(await agent.exportNotebook("cli:never"), null);
});
