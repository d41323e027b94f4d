/**
 * Faults a bot meets in months of service, each against the real
 * `threadbook start` (Socket Mode against the Slack emulator, the scripted
 * model, real Docker and SQLite), each ending with a plain message in the
 * thread and the bot still serving: a session container killed mid-cell;
 * the model service down, then back; the model service hanging; the bot
 * killed mid-turn and started again; and, last, SIGTERM mid-turn (the turn
 * finishes and is posted, then the process exits 0). The Slack socket
 * dropped mid-turn is in slack.test.ts ("a dropped socket"), the Docker
 * engine restarted in docker-engine-restart.test.ts. The tests run
 * in order on one bot, as one service's life.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import { conversationKey } from "../src/adapters/slack/conversation-key.ts";
import { sessionContainerName } from "../src/sandbox/docker/docker-sandbox.ts";
import { codeStep, delayStep, textStep } from "./emulators/openai-server.ts";
import type { SlackServer } from "./emulators/slack-server.ts";
import { startSlackBot, type SlackBot } from "./support/slack-bot.ts";
import { botUserId, channel, team, userPost } from "./support/slack-harness.ts";
import { streamedMarkdown } from "./support/slack-questions.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";

const instance = testInstance();
/** Runs far past any wait of these tests (THREADBOOK_CELL_TIMEOUT_S is 600 here): only a fault, or an interrupt, ends it. */
const longCell = "print('started', flush=True)\nimport time\ntime.sleep(100_000)";
let root: string;
let h: SlackBot;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "tb-faults-"));
  h = await startSlackBot({ root, instance, settings: { THREADBOOK_MODEL_TIMEOUT_S: "3", THREADBOOK_CELL_TIMEOUT_S: "600" } });
});

after(async () => {
  await h?.stop();
  await removeInstance(instance);
  rmSync(root, { recursive: true, force: true });
});

/** Everything the bot posted in the thread: each message's text, or a streamed one's markdown. */
function threadText(slack: SlackServer, rootTs: string): string {
  return slack.thread(channel, rootTs).map((message) => (message.chunks.length > 0 ? streamedMarkdown(message) : message.text)).join("\n");
}

/** Asks in a new thread; resolves with its root once the turn has ended (the thread's status taken back). */
async function ask(text: string, options: { whenRunning?: (rootTs: string) => Promise<void> } = {}): Promise<string> {
  const rootTs = h.slack.nextTs();
  const ended = turnEnded(rootTs);
  await h.slack.deliver(userPost({ text: `<@${botUserId}> ${text}`, ts: rootTs }));
  if (options.whenRunning !== undefined) {
    await h.slack.waitForCall("chat.startStream", (call) => call.args.thread_ts === rootTs && JSON.stringify(call.args.chunks).includes("in_progress"));
    await options.whenRunning(rootTs);
  }
  await ended;
  return rootTs;
}

/** A follow-up in the thread, answered with `answer`; fails unless the bot answers it there. */
async function stillServes(rootTs: string, answer: string): Promise<void> {
  h.model.script([codeStep("1 + 1"), textStep(answer)]);
  const ended = turnEnded(rootTs);
  await h.slack.deliver(userPost({ type: "message", channelType: "channel", text: "and one plus one?", ts: h.slack.nextTs(), threadTs: rootTs }));
  await ended;
  assert.match(threadText(h.slack, rootTs), new RegExp(answer.replace(/[.?]/g, "\\$&")));
}

function turnEnded(rootTs: string): Promise<unknown> {
  const since = h.slack.calls.length;
  return h.slack.waitForCall("assistant.threads.setStatus", (call) => h.slack.calls.indexOf(call) >= since && call.args.thread_ts === rootTs && call.args.status === "", 120_000);
}

describe("a bot in service", () => {
  test("a session container killed mid-cell: the model is told the session died, its answer is posted, and the thread goes on in a new session", async () => {
    h.model.script([codeStep(longCell), textStep("The session stopped; ask again.")]);
    const rootTs = await ask("run a long cell", {
      whenRunning: (running) => new Docker().getContainer(sessionContainerName(instance, conversationKey(team, channel, running))).kill(),
    });
    assert.match(threadText(h.slack, rootTs), /The session stopped; ask again\./);
    assert.match(JSON.stringify(h.model.requests.at(-1)?.body["input"]), /The Python session died/);
    await stillServes(rootTs, "Two, in a new session.");
  });

  test("the model service down: the thread is told it could not be reached; back up, the thread is answered", async () => {
    const back = await h.modelDown();
    const rootTs = await ask("what is two plus two?");
    const text = threadText(h.slack, rootTs);
    await back();
    assert.match(text, /Could not reach the model service/);
    assert.doesNotMatch(text, /127\.0\.0\.1/, "the thread is not told the bot's addresses");
    await stillServes(rootTs, "Two, now the model is back.");
  });

  test("the model service hanging: the turn ends at THREADBOOK_MODEL_TIMEOUT_S with a plain message, and the next question is answered", async () => {
    h.model.script([delayStep(60_000, textStep("Too late."))]);
    const rootTs = await ask("what is three plus three?");
    assert.match(threadText(h.slack, rootTs), /The model service did not answer within 3 s \(THREADBOOK_MODEL_TIMEOUT_S\)/);
    assert.doesNotMatch(threadText(h.slack, rootTs), /Too late/);
    await stillServes(rootTs, "Two, without waiting.");
  });

  test("the bot killed mid-turn and started again: the thread is told to ask again, once, and is answered in the same session, the cell left running interrupted", async () => {
    h.model.script([codeStep(longCell)]);
    const rootTs = h.slack.nextTs();
    await h.slack.deliver(userPost({ text: `<@${botUserId}> run a long cell`, ts: rootTs }));
    await h.slack.waitForCall("chat.startStream", (call) => call.args.thread_ts === rootTs && JSON.stringify(call.args.chunks).includes("in_progress"));
    process.kill(h.bot.pid, "SIGKILL");
    assert.deepEqual(await h.bot.exited(), [null, "SIGKILL"]);
    const told = h.slack.waitForCall("chat.postMessage", (call) => call.args.thread_ts === rootTs && String(call.args.text).includes("I was restarted"), 120_000);
    await h.restart();
    await told;
    assert.match(threadText(h.slack, rootTs), /I was restarted while answering .*Please ask it again/);
    // The earlier cell would hold the kernel for its 600 s limit: the follow-up's cell runs only because it was interrupted.
    await stillServes(rootTs, "Two, after the restart.");
    assert.ok(h.bot.logLines().some((line) => line["msg"] === "dropped the late reply to a request of an earlier process"), "the session was resumed and the earlier cell's reply dropped");
    assert.equal(h.slack.callsOf("chat.postMessage").filter((call) => String(call.args.text).includes("I was restarted")).length, 1, "told once");
  });

  test("SIGTERM mid-turn: the turn finishes and is posted, then the bot exits 0", async () => {
    h.model.script([codeStep("import time\ntime.sleep(2)\nprint('slept')"), textStep("Slept well.")]);
    const rootTs = h.slack.nextTs();
    await h.slack.deliver(userPost({ text: `<@${botUserId}> take a moment`, ts: rootTs }));
    await h.slack.waitForCall("chat.startStream", (call) => call.args.thread_ts === rootTs && JSON.stringify(call.args.chunks).includes("in_progress"));
    assert.equal(await h.bot.stop(), 0);
    assert.match(threadText(h.slack, rootTs), /Slept well\./);
  });
});
