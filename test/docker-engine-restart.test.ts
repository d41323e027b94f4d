/**
 * The Docker engine restarted under a running bot: a second dockerd this
 * test starts itself (support/second-engine.ts: its own data root, exec
 * root, pid file, socket, containerd namespace and network namespace), the
 * sandbox image copied into it, and stopped by its pid. The machine's own
 * engine is never touched. The real `threadbook start` against the Slack
 * emulator uses that engine; it is stopped while a cell runs and stays down
 * until the turn has ended: the model is told the session died and its
 * answer is posted; started again, the next question in the thread is
 * answered without restarting the bot.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { currentImageTag } from "../src/sandbox/docker/image.ts";
import { codeStep, textStep, type RecordedRequest, type ScriptedStep } from "./emulators/openai-server.ts";
import { startSecondEngine, type SecondEngine } from "./support/second-engine.ts";
import { startSlackBot, type SlackBot } from "./support/slack-bot.ts";
import { botUserId, channel, userPost } from "./support/slack-harness.ts";
import { streamedMarkdown } from "./support/slack-questions.ts";
import { testInstance } from "./support/sandbox.ts";

const instance = testInstance();
const image = currentImageTag();
let root: string;
let engine: SecondEngine | undefined;
let h: SlackBot | undefined;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "tbe-"));
  engine = await startSecondEngine({ image });
  h = await startSlackBot({ root, instance, settings: { DOCKER_HOST: engine.host, THREADBOOK_SANDBOX_IMAGE: image, THREADBOOK_CELL_TIMEOUT_S: "600" } });
});

after(async () => {
  try {
    await h?.stop();
  } finally {
    await engine?.remove();
    rmSync(root, { recursive: true, force: true });
  }
});

function threadText(rootTs: string): string {
  return h!.slack.thread(channel, rootTs).map((message) => (message.chunks.length > 0 ? streamedMarkdown(message) : message.text)).join("\n");
}

function turnEnded(rootTs: string): Promise<unknown> {
  const since = h!.slack.calls.length;
  return h!.slack.waitForCall("assistant.threads.setStatus", (call) => h!.slack.calls.indexOf(call) >= since && call.args.thread_ts === rootTs && call.args.status === "", 180_000);
}

/**
 * A model step for any turn: the first step of a turn runs `1 + 1`, a step
 * after a cell answers, numbered. Whether the turn cut short by the engine
 * asks its second step depends on where the engine was in its shutdown when
 * the session's restart was tried: either way the thread must say so plainly.
 */
let answers = 0;
function anyStep(request: RecordedRequest): ScriptedStep {
  const items = request.body["input"] as { type?: string }[];
  return items.at(-1)?.type?.endsWith("_call_output") === true ? textStep(`Answer ${++answers}.`) : codeStep("1 + 1");
}

test("the Docker engine restarted mid-cell: the thread is told plainly, and the next question is answered without restarting the bot", { timeout: 600_000 }, async () => {
  const bot = h!;
  bot.model.script([codeStep("print('started', flush=True)\nimport time\ntime.sleep(100_000)"), anyStep]);
  const rootTs = bot.slack.nextTs();
  const ended = turnEnded(rootTs);
  await bot.slack.deliver(userPost({ text: `<@${botUserId}> run a long cell`, ts: rootTs }));
  await bot.slack.waitForCall("chat.startStream", (call) => call.args.thread_ts === rootTs && JSON.stringify(call.args.chunks).includes("in_progress"));
  await engine!.stop();
  await ended;
  const askedAgain = bot.model.requests.length === 2;
  if (askedAgain) {
    // The session died with the engine: the model was told so, and its answer is posted.
    assert.match(JSON.stringify(bot.model.requests[1]?.body["input"]), /The Python session died/);
    assert.match(threadText(rootTs), /Answer 1\./);
  } else {
    assert.match(threadText(rootTs), /⚠️ Docker stopped answering, so code cannot run\. Start Docker and try again\./);
  }

  await engine!.start();
  // The step left unasked, if any, is the follow-up's first.
  bot.model.script(askedAgain ? [anyStep, anyStep] : [anyStep]);
  const again = turnEnded(rootTs);
  await bot.slack.deliver(userPost({ type: "message", channelType: "channel", text: "and one plus one?", ts: bot.slack.nextTs(), threadTs: rootTs }));
  await again;
  assert.match(threadText(rootTs), new RegExp(`Answer ${answers}\\.`));
  const lastItem = (bot.model.requests.at(-1)?.body["input"] as { output?: unknown }[]).at(-1);
  assert.match(String(lastItem?.output), /^value:\n2$/, "the follow-up's cell ran on the restarted engine");
  assert.equal(await Promise.race([bot.bot.exited().then(() => "exited"), Promise.resolve("running")]), "running", "the same bot process answered");
});
