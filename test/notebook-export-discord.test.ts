/**
 * `/export` in Discord: the real discord.js client against the Discord
 * emulator, a real Agent, Docker sandbox and SQLite store, and the scripted
 * model. The thread's conversation comes back attached to the command's
 * reply as `<title>.ipynb`, which the real nbformat validates and reads back
 * with exactly the turn's cells.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { user, type RecordedCall } from "./emulators/discord-server.ts";
import { discordHarness } from "./support/discord-harness.ts";
import { readNotebook } from "./support/nbformat-check.ts";
import { assertScenarioNotebook, scenarioCsv, scenarioFileName, scenarioQuestion, scenarioSteps } from "./support/notebook-scenario.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const instance = testInstance();
const ada = user("100000000000000001", "Ada");
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-discord-export-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 1 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

const editOf = (token: string) => (call: RecordedCall) => call.method === "PATCH" && call.path.includes(`/${token}/messages/@original`);

test("/export in the thread attaches the conversation as a notebook nbformat reads back", async (t) => {
  const h = await discordHarness(t, sandbox, dataRoot);
  h.model.script(scenarioSteps());
  const file = h.discord.attachment(scenarioFileName, Buffer.from(scenarioCsv), "text/csv");
  h.discord.command({ name: "ask", user: ada, options: [{ name: "question", type: 3, value: scenarioQuestion }, { name: "file", type: 11, value: file.id }], attachments: [file] });
  await h.discord.waitFor((call) => call.method === "POST" && call.path.endsWith("/threads"));
  await h.adapter.idle();
  const threadId = h.discord.threads()[0]!.id;

  const exported = h.discord.command({ name: "export", user: ada, channelId: threadId });
  const edit = await h.discord.waitFor(editOf(exported.token));
  assert.equal(edit.body.content, "This thread as a Jupyter notebook: 1 question, 4 code cells.");
  const message = h.discord.messagesIn(threadId).find((each) => each.attachments.some((attachment) => attachment.filename.endsWith(".ipynb")));
  assert.equal(message?.attachments.length, 1);
  const attachment = message!.attachments[0]!;
  assert.equal(attachment.filename, "which-region-sold-the-most-plot-it.ipynb");
  const data = Buffer.from(await (await fetch(attachment.url)).arrayBuffer());
  assertScenarioNotebook(readNotebook(data), "Ada");
  assert.equal(h.model.requests.length, 5, "exporting asks nothing of the model");
});

test("/export outside a thread is refused, and in a thread with no conversation says there is no notebook yet", async (t) => {
  const h = await discordHarness(t, sandbox, dataRoot);
  const inChannel = h.discord.command({ name: "export", user: ada });
  const refusal = await h.discord.waitFor((call) => call.path.endsWith(`/${inChannel.token}/callback`));
  assert.match(refusal.body.data.content, /Use this in a thread threadbook answers in/);

  const other = h.discord.openThread(ada.id, "not threadbook's");
  const empty = h.discord.command({ name: "export", user: ada, channelId: other.id });
  const edit = await h.discord.waitFor(editOf(empty.token));
  assert.equal(edit.body.content, "This thread has no notebook yet: ask a question first.");
  assert.equal(edit.files.length, 0);
});
