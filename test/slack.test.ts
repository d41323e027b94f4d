/**
 * The Slack adapter end to end: the real Bolt app in Socket Mode against
 * the Slack emulator, a real Agent, Docker sandbox and SQLite store, and the
 * scripted model.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { codeStep, textStep } from "./emulators/openai-server.ts";
import type { SlackMessage } from "./emulators/slack-server.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { botUserId, channel, startSlackHarness, userPost, type HarnessOptions } from "./support/slack-harness.ts";

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-slack-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 2 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

function options(settings: HarnessOptions["settings"] = {}): HarnessOptions {
  return { dataDir: join(dataRoot, randomBytes(4).toString("hex")), sandbox, settings };
}

function taskUpdates(message: SlackMessage) {
  return message.chunks.filter((chunk) => chunk.type === "task_update") as { id: string; title: string; status: string; details?: string; output?: string }[];
}

function streamedMarkdown(message: SlackMessage): string {
  return message.chunks.filter((chunk) => chunk.type === "markdown_text").map((chunk) => String(chunk.text)).join("");
}

const plotCode = [
  "# Plot the squares",
  "import matplotlib.pyplot as plt",
  "squares = [n * n for n in range(5)]",
  "print('squares:', squares)",
  "plt.plot(squares)",
].join("\n");

describe("a mention", () => {
  test("shows a sign of work, task cards, then the answer streamed in the thread, with the figure uploaded", async (t) => {
    const h = await startSlackHarness(t, options());
    h.model.script([codeStep(plotCode), textStep("The squares grow quickly: **16** at n = 4.")]);
    const ts = h.slack.nextTs();
    await h.slack.deliver(userPost({ text: `<@${botUserId}> plot the first squares`, ts }));
    const stopped = await h.slack.waitForCall("chat.stopStream");
    const status = h.slack.callsOf("assistant.threads.setStatus")[0];
    assert.equal(status?.args.thread_ts, ts, "the status is set on the post's thread");
    const streamed = h.slack.messages.find((message) => message.ts === stopped.args.ts);
    assert.ok(streamed);
    assert.equal(streamed.threadTs, ts);
    assert.equal(streamed.streaming, "stopped");
    const cards = taskUpdates(streamed);
    assert.deepEqual(cards.slice(0, 2).map((card) => [card.id, card.status]), [["cell-1", "in_progress"], ["cell-1", "complete"]]);
    assert.equal(cards[0]?.title, "Cell 1: Plot the squares");
    assert.match(cards[0]?.details ?? "", /squares = \[n \* n for n in range\(5\)\]/);
    assert.match(cards.at(-1)?.output ?? "", /squares: \[0, 1, 4, 9, 16\]/);
    assert.equal(streamedMarkdown(streamed), "The squares grow quickly: **16** at n = 4.");
    const startArgs = h.slack.callsOf("chat.startStream")[0]?.args;
    assert.equal(startArgs?.recipient_user_id, "U0ADA");
    assert.equal(startArgs?.recipient_team_id, "T0TEAM");
    assert.match(JSON.stringify(streamed.blocks), /feedback_buttons/);
    await h.slack.waitForCall("files.completeUploadExternal");
    const files = h.slack.filesIn(channel, ts);
    const figure = files.find((file) => file.name.endsWith(".png"));
    assert.ok(figure, `a PNG among ${files.map((file) => file.name).join(", ")}`);
    assert.deepEqual(figure.data.subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const statusMessage = h.slack.thread(channel, ts).find((message) => message.streaming === "no");
    assert.match(statusMessage?.text ?? "", /^Done: 1 cell in/);
    assert.doesNotMatch(JSON.stringify(statusMessage?.blocks), /threadbook_stop/, "the Stop button is gone once the turn ended");
  });
});
