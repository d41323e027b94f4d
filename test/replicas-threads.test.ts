/**
 * Three replicas of the real `threadbook start` on one Postgres and one
 * Docker host, against the Slack emulator, which gives each event to one
 * replica's connection as Slack spreads an app's events. Thirty
 * conversations at once, each a question on one replica and then a
 * follow-up on another: every question is answered once, in order in its
 * thread, and the follow-up finds the variable its first turn set on the
 * other replica.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { SlackServer, type SlackMessage } from "./emulators/slack-server.ts";
import { codeStep, startOpenAIServer, textStep, type OpenAIServer, type RecordedRequest, type ScriptedStep } from "./emulators/openai-server.ts";
import type { BotProcess } from "./support/bot-process.ts";
import { startPostgres, type PostgresServer } from "./support/postgres.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";
import { startSlackReplicas } from "./support/slack-replicas.ts";
import { botUserId, team, userPost } from "./support/slack-harness.ts";
import { until } from "./support/until.ts";

const secrets = {
  botToken: `xoxb-${randomBytes(12).toString("hex")}`,
  appToken: `xapp-${randomBytes(12).toString("hex")}`,
  apiKey: `sk-test-${randomBytes(12).toString("hex")}`,
};
const replicaCount = 3;
const conversations = 30;
const instance = testInstance();
let root: string;
let postgres: PostgresServer;
let slack: SlackServer;
let model: OpenAIServer;
const replicas: BotProcess[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), "tb-replicas3-"));
  [postgres, slack, model] = await Promise.all([
    startPostgres(),
    SlackServer.start({ botToken: secrets.botToken, appToken: secrets.appToken, teamId: team, botUserId }),
    startOpenAIServer({ apiKey: secrets.apiKey }),
  ]);
  const databaseUrl = await postgres.createDatabase();
  replicas.push(...await startSlackReplicas({ count: replicaCount, root, instance, databaseUrl, slack, model, secrets, settings: { THREADBOOK_SANDBOX_MEMORY_MB: "256", THREADBOOK_LOG_LEVEL: "info" } }));
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

/**
 * Any step of any conversation, read from the request itself, as the
 * conversations run in no set order: a question "set x to N" runs `x = N`,
 * a follow-up runs `x + 1`, and after a cell the answer repeats its output.
 */
function step(request: RecordedRequest): ScriptedStep {
  const items = request.body["input"] as { type?: string; role?: string; output?: unknown }[];
  const last = items.at(-1);
  if (last?.type?.endsWith("_call_output") === true) return textStep(`Result: ${String(last.output).replace(/\s+/g, " ")}`);
  const question = JSON.stringify(items.filter((item) => item.role === "user").at(-1) ?? {});
  const set = /set x to (\d+)/.exec(question);
  return set === null ? codeStep("x + 1") : codeStep(`x = ${set[1]}\nx`);
}

test("thirty conversations over three replicas, each follow-up on another replica than its question: every question answered once, in order, the variable kept", { timeout: 600_000 }, async () => {
  model.script(Array.from({ length: conversations * 4 }, () => step));
  const roots = Array.from({ length: conversations }, () => slack.nextTs());
  // The bot's streamed answers in the thread, once each stream has ended.
  const answersIn = (root: string) => slack.messages.filter((message) => message.threadTs === root && message.streaming === "stopped");
  const finished = (root: string, count: number) => until(
    () => answersIn(root).length >= count,
    `${count} answer(s) in thread ${root}`,
    300_000,
  );

  // The questions, conversation i's on replica i % 3, all at once.
  await Promise.all(roots.map((root, index) => slack.deliver(
    userPost({ text: `<@${botUserId}> set x to ${index}`, ts: root, user: `U0R${String(index).padStart(3, "0")}` }),
    { connection: index % replicaCount },
  )));
  await Promise.all(roots.map((root) => finished(root, 1)));

  // The follow-ups, conversation i's on replica (i + 1) % 3: never the one that ran its question.
  await Promise.all(roots.map((root, index) => slack.deliver(
    userPost({ type: "message", channelType: "channel", text: "and x + 1?", ts: slack.nextTs(), threadTs: root, user: `U0R${String(index).padStart(3, "0")}` }),
    { connection: (index + 1) % replicaCount },
  )));
  await Promise.all(roots.map((root) => finished(root, 2)));

  for (const [index, root] of roots.entries()) {
    const texts = answersIn(root).map(streamedMarkdown);
    assert.deepEqual(texts, [`Result: value: ${index}`, `Result: value: ${index + 1}`], `thread ${index}: both answered once, in order, x kept across replicas`);
  }
  assert.equal(model.requests.length, conversations * 4, "each question asked the model twice, and no more");
  for (const replica of replicas) await replica.logged((line) => line["msg"] === "turn finished");
  model.assertDone();
  assert.deepEqual(slack.takeFaults(), []);
});
