/**
 * A question a crash left unanswered is not lost silently: a bot process
 * killed mid-turn leaves its turn running in the store; the bot started
 * again on that data dir (the real Bolt app against the Slack emulator, a
 * real SQLite store) posts a note in that thread, once, and for no turn too
 * old, of another platform, or whose key names no Slack thread.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseConversationKey } from "../src/adapters/slack/conversation-key.ts";
import { interruptedNote, interruptedNoteWindowMs } from "../src/adapters/slack/interrupted-turns.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import type { UserRecord } from "../src/store/store.ts";
import { captureLogger } from "./support/capture-logger.ts";
import { crashWhileRunning } from "./support/crashed-turns.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { ada, channel, startSlackHarness, team } from "./support/slack-harness.ts";

describe("the conversation key read back", () => {
  test("a key conversationKey makes parses to its thread; anything else does not", () => {
    assert.deepEqual(parseConversationKey("slack:T0TEAM:C0CHAN:1700000001.000002"), { team: "T0TEAM", channel: "C0CHAN", rootTs: "1700000001.000002" });
    for (const key of [
      "discord:123:456", "slack:T0TEAM:C0CHAN", "slack:T0TEAM:C0CHAN:1700000001.000002:extra", "slack:T0TEAM:c0chan:1700000001.000002",
      "slack:T0TEAM:C0CHAN:1700000001", "slack:T0TEAM:C0CHAN:not-a-ts", "slack::C0CHAN:1700000001.000002", "SLACK:T0TEAM:C0CHAN:1700000001.000002",
      "slack:T0TEAM:<!channel>:1700000001.000002", "slack:T0TEAM:C0CHAN:1700000001.000002\n",
    ]) {
      assert.equal(parseConversationKey(key), null, key);
    }
  });
});

describe("the note", () => {
  test("quotes the start of the question as plain text: no mention, no link, no markup", () => {
    const note = interruptedNote("U0ADA", "  <!channel> &lt;b&gt; ask <@U0BOB> & @here\nabout <https://example.com|this>\u202e  ");
    assert.equal(note,
      "I was restarted while answering <@U0ADA>'s question (“&lt;!channel&gt; &lt;b&gt; ask &lt;@\u200bU0BOB&gt; &amp; @\u200bhere about &lt;https://example.com|this&gt;”), " +
      "so it has no answer. Please ask it again: the files attached in this thread are still here.");
    assert.doesNotMatch(note.replace("<@U0ADA>", ""), /[<>]|@(?!\u200b)/, "the only mention is the asker's");
  });

  test("cuts a long question at 80 characters, and names no one for a user id Slack would not give", () => {
    const long = `${"x".repeat(79)}😀 and the rest`;
    assert.match(interruptedNote("U0ADA", long), new RegExp(`\\(“${"x".repeat(79)}😀…”\\)`));
    assert.match(interruptedNote("<!everyone>", "why?"), /^I was restarted while answering a question \(“why\?”\), so/);
    assert.match(interruptedNote("U0ADA", "   "), /^I was restarted while answering <@U0ADA>'s question, so it has no answer\./);
  });
});

describe("after a crash", () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;
  let dataRoot: string;

  before(async () => {
    dataRoot = mkdtempSync(join(tmpdir(), "threadbook-slack-interrupted-"));
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 0 });
  });

  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
    rmSync(dataRoot, { recursive: true, force: true });
  });

  test("the thread of a question a killed bot was answering is told to ask again, once", async (t) => {
    const dataDir = join(dataRoot, randomBytes(4).toString("hex"));
    const slackAda: UserRecord = { platform: "slack", id: ada, workspace: team, displayName: null };
    // As Slack gives a post's text: & escaped, mentions in angle brackets.
    const question = "<!channel> what's the median &amp; mean order value by region in <@U0BOB>'s sheet, and how has it changed since last year?";
    const threads = { recent: "1700000100.000100", old: "1700000050.000050", withinTheHour: "1700000070.000070", gone: "1700000120.000120" };
    const now = Date.now();
    const crashed = crashWhileRunning(dataDir, [
      { conversationKey: `slack:${team}:${channel}:${threads.old}`, user: slackAda, text: "a question of two hours ago", startedAt: now - 2 * interruptedNoteWindowMs },
      { conversationKey: `slack:${team}:${channel}:${threads.withinTheHour}`, user: slackAda, text: "a question of 55 minutes ago", startedAt: now - 55 * 60_000 },
      { conversationKey: "discord:1234567890:2345678901", user: { platform: "discord", id: "3456789012", workspace: "1234567890", displayName: null }, text: "a Discord question", startedAt: now - 60_000 },
      { conversationKey: `slack:${team}:${channel}:not-a-ts`, user: slackAda, text: "a key that names no thread", startedAt: now - 50_000 },
      { conversationKey: `slack:${team}:C0GONE:${threads.gone}`, user: slackAda, text: "in a channel the bot was removed from", startedAt: now - 40_000 },
      { conversationKey: `slack:${team}:${channel}:${threads.recent}`, user: slackAda, text: question, startedAt: now - 30_000 },
    ]);

    const log = captureLogger();
    // The harness opens the store as the bot does, failing the turns the crash left running; the adapter takes them as it starts.
    const h = await startSlackHarness(t, { dataDir, sandbox, logger: log.logger, prepareSlack: (slack) => slack.leftChannels.add("C0GONE") });
    for (const id of crashed) assert.equal((await h.store.getTurn(id))?.status, "failed");

    const posts = h.slack.callsOf("chat.postMessage");
    assert.deepEqual(posts.map((call) => [call.args.channel, call.args.thread_ts]), [[channel, threads.withinTheHour], ["C0GONE", threads.gone], [channel, threads.recent]], "a post tried in each recent Slack thread, and only there");
    assert.equal(h.slack.thread(channel, threads.recent).length, 1);
    assert.equal(h.slack.thread(channel, threads.recent)[0]!.text,
      `I was restarted while answering <@${ada}>'s question (“&lt;!channel&gt; what's the median &amp; mean order value by region in &lt;@\u200bU0BOB&gt;'s sheet,…”), ` +
      "so it has no answer. Please ask it again: the files attached in this thread are still here.");
    assert.match(h.slack.thread(channel, threads.withinTheHour)[0]?.text ?? "", /\(“a question of 55 minutes ago”\)/);
    assert.equal(h.slack.messages.length, 2, "the refused post left no message");

    const lines = log.lines();
    const about = (conversation: string) => lines.filter((line) => line.conversation === conversation).map((line) => line.msg);
    assert.deepEqual(about(`slack:${team}:${channel}:${threads.old}`), ["a turn a restart interrupted started too long ago to post a note about"]);
    assert.deepEqual(about(`slack:${team}:${channel}:not-a-ts`), ["a turn a restart interrupted has a conversation key that is not a Slack thread's; no note posted"]);
    assert.deepEqual(about(`slack:${team}:C0GONE:${threads.gone}`), ["could not tell a thread its question was interrupted by a restart"]);
    assert.match(JSON.stringify(lines.find((line) => line.conversation === `slack:${team}:C0GONE:${threads.gone}`)), /not_in_channel/);
    assert.equal(h.slack.connections, 1, "the adapter started all the same");
    // The Discord turn is left for the Discord adapter to take.
    assert.deepEqual((await h.store.takeInterruptedTurns("discord")).map((turn) => turn.text), ["a Discord question"]);

    // Started again (a new process opening the store): nothing is left to tell.
    await h.restart({ reopenStore: true });
    await h.slack.whenConnected();
    assert.equal(h.slack.callsOf("chat.postMessage").length, 3, "no thread is told twice");
  });
});
