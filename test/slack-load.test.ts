/**
 * A busy workspace, sized for CI: twenty questions at once through the Slack
 * adapter of the real `threadbook start` (Socket Mode, the Slack emulator,
 * the scripted model, real Docker and SQLite), from twenty users in twenty
 * threads, with fewer sessions than questions so turns wait for one and idle
 * sessions are evicted. Each thread gets its own answer, once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startSlackBot, type SlackBot } from "./support/slack-bot.ts";
import { botUserId, channel, team } from "./support/slack-harness.ts";
import { askAtOnce, scriptOneCellTurns } from "./support/slack-questions.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";

const QUESTIONS = 20;
const SESSIONS = 6;
const instance = testInstance();
let root: string;
let bot: SlackBot;

before(async () => {
  root = mkdtempSync(join(tmpdir(), "tb-load-"));
  bot = await startSlackBot({ root, instance, settings: { THREADBOOK_MAX_SESSIONS: String(SESSIONS), THREADBOOK_LOG_LEVEL: "info" } });
});

after(async () => {
  await bot?.stop();
  await removeInstance(instance);
  rmSync(root, { recursive: true, force: true });
});

test(`${QUESTIONS} questions at once from ${QUESTIONS} users, ${SESSIONS} sessions: each thread gets its own answer, once, and no turn fails`, { timeout: 300_000 }, async () => {
  // Each answer names the cell's result, so an answer in the wrong thread would show.
  scriptOneCellTurns(bot.model, QUESTIONS, { code: "import statistics\nstatistics.median([3, 1, 2])", answer: "The median is 2.", delayMs: 0 });
  const asked = await askAtOnce(bot.slack, { count: QUESTIONS, channel, team, botUserId, userPrefix: "U0LOAD", text: "the median of 3, 1 and 2?" });
  await asked.answered(240_000);
  asked.close();
  for (const thread of asked.threads) {
    assert.equal(thread.answers, 1, `thread ${thread.rootTs} answered once`);
    assert.equal(thread.text, "The median is 2.", `thread ${thread.rootTs} got the answer`);
  }
  // Every streamed answer went to the thread of its own question, and nowhere else.
  const streams = bot.slack.callsOf("chat.startStream");
  assert.deepEqual(streams.map((call) => call.args.thread_ts).sort(), asked.threads.map((thread) => thread.rootTs).sort());
  assert.equal(bot.model.requests.length, 2 * QUESTIONS, "two model steps a question: none ran twice");
  const lines = bot.bot.logLines();
  assert.deepEqual(lines.filter((line) => Number(line["level"]) >= 50).map((line) => line["msg"]), [], "nothing logged as an error");
  assert.ok(lines.some((line) => line["msg"] === "removed the least recently used idle session to make room"), "idle sessions were evicted to make room");
});
