/**
 * Exporting a Slack thread as a notebook: the real Bolt app in Socket Mode
 * against the Slack emulator, a real Agent, Docker sandbox and SQLite store,
 * and the scripted model. The reply's "Export notebook" button and `export`
 * typed in the thread each upload `<title>.ipynb` into the thread, which the
 * real nbformat validates and reads back with exactly the turn's cells.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { readNotebook } from "./support/nbformat-check.ts";
import { assertScenarioNotebook, scenarioCsv, scenarioFileName, scenarioQuestion, scenarioSteps } from "./support/notebook-scenario.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { ada, botUserId, buttonClick, channel, startSlackHarness, userPost } from "./support/slack-harness.ts";
import { until } from "./support/until.ts";

const instance = testInstance();
const notebookName = "which-region-sold-the-most-plot-it.ipynb";
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-slack-export-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 1 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

test("Export notebook under the answer, and export typed in the thread, upload the thread as a notebook nbformat reads back", async (t) => {
  const h = await startSlackHarness(t, { dataDir: join(dataRoot, randomBytes(4).toString("hex")), sandbox });
  h.model.script(scenarioSteps());
  const root = h.slack.nextTs();
  const file = h.slack.addFile(scenarioFileName, Buffer.from(scenarioCsv));
  await h.slack.deliver(userPost({ text: `<@${botUserId}> ${scenarioQuestion}`, ts: root, files: [file] }));
  const stopped = await h.slack.waitForCall("chat.stopStream");
  const answer = h.slack.messages.find((message) => message.ts === stopped.args.ts);
  assert.match(JSON.stringify(answer?.blocks), /"action_id":"threadbook_export".*"text":"Export notebook"/);
  // The turn's own uploads (the figure) are done before the click, so the thread's notebooks are told apart from them.
  await h.slack.waitForCall("files.completeUploadExternal");
  const notebooks = () => h.slack.filesIn(channel, root).filter((upload) => upload.name.endsWith(".ipynb"));

  await h.slack.deliverInteraction(buttonClick({ actionId: "threadbook_export", type: "button", value: "export", messageTs: String(stopped.args.ts), threadTs: root }));
  await until(() => notebooks().length === 1, "the button's notebook is uploaded into the thread", 30_000);
  const clicked = notebooks()[0]!;
  assert.equal(clicked.name, notebookName);
  assertScenarioNotebook(readNotebook(clicked.data), `slack user ${ada}`);
  const comment = h.slack.callsOf("files.completeUploadExternal").find((call) => String(call.args.initial_comment ?? "").includes("notebook"));
  assert.equal(comment?.args.initial_comment, "This thread as a Jupyter notebook: 1 question, 4 code cells.");

  await h.slack.deliver(userPost({ type: "message", channelType: "channel", text: "export", ts: h.slack.nextTs(), threadTs: root }));
  await until(() => notebooks().length === 2, "the typed export's notebook is uploaded into the thread", 30_000);
  const typed = notebooks()[1]!;
  assert.equal(typed.name, notebookName);
  assert.deepEqual(typed.data, clicked.data);
  assert.equal(h.model.requests.length, 5, "exporting asks nothing of the model");
});

test("export typed in a thread threadbook never answered in tells the user there is no notebook yet", async (t) => {
  const h = await startSlackHarness(t, { dataDir: join(dataRoot, randomBytes(4).toString("hex")), sandbox });
  const root = h.slack.nextTs();
  await h.slack.deliver(userPost({ text: `<@${botUserId}> export`, ts: root }));
  const note = await h.slack.waitForCall("chat.postEphemeral");
  assert.equal(note.args.text, "This thread has no notebook yet: ask me a question first.");
  assert.equal(note.args.user, ada);
  assert.equal(h.slack.filesIn(channel, root).length, 0);
});
