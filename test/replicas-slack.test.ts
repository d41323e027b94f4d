/**
 * Two replicas of the real `threadbook start`, each with its own data
 * directory and Socket Mode connection, sharing one Postgres (started by the
 * test from Debian's packages) and one Docker host, against the Slack
 * emulator, which gives each event to one connection as Slack spreads an
 * app's events over its connections, and the scripted model emulator.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SlackServer, type SlackMessage } from "./emulators/slack-server.ts";
import { codeStep, holdStep, startOpenAIServer, textStep, type OpenAIServer } from "./emulators/openai-server.ts";
import type { BotProcess } from "./support/bot-process.ts";
import { startPostgres, type PostgresServer } from "./support/postgres.ts";
import { toolOutputs } from "./support/recorded-requests.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";
import { startSlackReplicas } from "./support/slack-replicas.ts";
import { botUserId, team, userPost } from "./support/slack-harness.ts";
import { until } from "./support/until.ts";

const secrets = {
  botToken: `xoxb-${randomBytes(12).toString("hex")}`,
  appToken: `xapp-${randomBytes(12).toString("hex")}`,
  apiKey: `sk-test-${randomBytes(12).toString("hex")}`,
};
const instance = testInstance();
let root: string;
let postgres: PostgresServer;
let slack: SlackServer;
let model: OpenAIServer;
const replicas: BotProcess[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), "tb-replicas-"));
  [postgres, slack, model] = await Promise.all([
    startPostgres(),
    SlackServer.start({ botToken: secrets.botToken, appToken: secrets.appToken, teamId: team, botUserId }),
    startOpenAIServer({ apiKey: secrets.apiKey }),
  ]);
  const databaseUrl = await postgres.createDatabase();
  replicas.push(...await startSlackReplicas({ count: 2, root, instance, databaseUrl, slack, model, secrets }));
});

after(async () => {
  await Promise.all(replicas.map((replica) => replica.stop().catch(() => undefined)));
  await removeInstance(instance);
  await model?.stop();
  await slack?.stop().catch(() => undefined);
  await postgres?.stop();
  rmSync(root, { recursive: true, force: true });
});

function streamedMarkdown(message: SlackMessage): string {
  return message.chunks.filter((chunk) => chunk.type === "markdown_text").map((chunk) => String(chunk.text)).join("");
}

test("a thread whose follow-up lands on the other replica goes on there: in order, its variable kept; an event retried on the other connection runs once", async () => {
  const requestsBefore = model.requests.length;
  model.script([codeStep("x = 41"), textStep("x is 41."), codeStep("print(x + 1)"), textStep("It is 42.")]);
  const thread = slack.nextTs();
  const eventId = `Ev${randomBytes(5).toString("hex").toUpperCase()}`;
  await slack.deliver(userPost({ text: `<@${botUserId}> set x`, ts: thread }), { connection: 0, eventId });
  const first = await slack.waitForCall("chat.stopStream");
  // Slack retries an event it saw no ack for in time, on any connection: the other replica drops it.
  await slack.deliver(userPost({ text: `<@${botUserId}> set x`, ts: thread }), { connection: 1, eventId, retryAttempt: 1 });
  await replicas[1]!.logged((line) => line["msg"] === "duplicate event dropped");

  const followUp = slack.nextTs();
  await slack.deliver(userPost({ type: "message", channelType: "channel", text: "and x + 1?", ts: followUp, threadTs: thread }), { connection: 1 });
  const second = await slack.waitForCall("chat.stopStream", (call) => call.args.ts !== first.args.ts);
  const answers = [first, second].map((call) => slack.messages.find((message) => message.ts === call.args.ts)!);
  assert.deepEqual(answers.map((message) => [message.threadTs, streamedMarkdown(message)]), [[thread, "x is 41."], [thread, "It is 42."]]);
  const requests = model.requests.slice(requestsBefore);
  assert.equal(requests.length, 4, "each question answered once");
  assert.match(toolOutputs(requests[3]!).at(-1) ?? "", /\b42\b/, "the variable set on one replica is there on the other");
  // Each replica ran one of the turns.
  for (const replica of replicas) await replica.logged((line) => line["msg"] === "turn finished");
  model.assertDone();
  assert.deepEqual(slack.takeFaults(), []);
});

test("a replica killed mid-turn: the other tells the thread once the turn's lease has expired, and the thread goes on there with its variables", async () => {
  const requestsBefore = model.requests.length;
  let release: () => void = () => undefined;
  const never = new Promise<void>((resolve) => {
    release = resolve;
  });
  model.script([codeStep("y = 7"), holdStep(never, textStep("(never sent)"), 300_000)]);
  const thread = slack.nextTs();
  await slack.deliver(userPost({ text: `<@${botUserId}> a long one`, ts: thread }), { connection: 0 });
  // Its cell ran, and it waits on the model: then the replica dies.
  await until(() => model.requests.length >= requestsBefore + 2, "the turn's second model step is asked for", 60_000);
  await replicas[0]!.kill();
  // The survivor looks every 15 s; the lease lives 30 s unless renewed.
  const note = await slack.waitForCall("chat.postMessage", (call) => call.args["thread_ts"] === thread && /I was restarted while answering/.test(String(call.args["text"])), 120_000);
  assert.match(String(note.args["text"]), /a long one/);
  release();

  model.script([codeStep("print(y * 6)"), textStep("It is 42.")]);
  const followUp = slack.nextTs();
  // The killed replica's connection is gone: Slack gives the event to the one left.
  await slack.deliver(userPost({ type: "message", channelType: "channel", text: "y times six?", ts: followUp, threadTs: thread }));
  const answer = await slack.waitForCall("chat.stopStream", (call) => slack.messages.find((message) => message.ts === call.args.ts)?.threadTs === thread);
  assert.equal(streamedMarkdown(slack.messages.find((message) => message.ts === answer.args.ts)!), "It is 42.");
  assert.match(toolOutputs(model.requests.at(-1)!).at(-1) ?? "", /\b42\b/, "the variable the dead replica's turn set is still in the session");
  model.assertDone();
  assert.equal(slack.callsOf("chat.postMessage").filter((call) => /I was restarted while answering/.test(String(call.args["text"]))).length, 1, "told once");
});
