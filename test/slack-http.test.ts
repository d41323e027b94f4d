/**
 * The Slack adapter in HTTP mode (SLACK_SIGNING_SECRET): the real Bolt
 * HTTPReceiver on a loopback port, sent signed events as Slack sends them,
 * with a real Agent, Docker sandbox and SQLite store, and the scripted model.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { textStep } from "./emulators/openai-server.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { botUserId, startSlackHarness, userPost } from "./support/slack-harness.ts";

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-slack-http-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 1 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

test("HTTP mode: a signed event runs; a forged signature and a timestamp past five minutes are refused; a retry does not run again", async (t) => {
  const h = await startSlackHarness(t, { dataDir: join(dataRoot, randomBytes(4).toString("hex")), sandbox, mode: "http" });
  const { secret, eventsUrl } = h.http!;
  // Were the retry run, it would take "Later." and the later question would find no step left: a fault.
  h.model.script([textStep("Signed and answered."), textStep("Later.")]);

  const challenge = await h.slack.deliverHttp(eventsUrl, { type: "url_verification", token: "verification", challenge: "c-123" }, { secret });
  assert.equal(challenge.status, 200);
  assert.match(challenge.body, /c-123/);

  const ts = h.slack.nextTs();
  const payload = h.slack.eventCallback(userPost({ text: `<@${botUserId}> are you there?`, ts }));
  const forged = await h.slack.deliverHttp(eventsUrl, payload, { secret: "not-the-signing-secret" });
  assert.equal(forged.status, 401);
  const stale = await h.slack.deliverHttp(eventsUrl, payload, { secret, timestampSeconds: Math.floor(Date.now() / 1000) - 6 * 60 });
  assert.equal(stale.status, 401);
  assert.equal(h.slack.calls.filter((call) => call.method !== "auth.test").length, 0, "a refused request made the bot do nothing");

  assert.equal((await h.slack.deliverHttp(eventsUrl, payload, { secret })).status, 200);
  const answered = await h.slack.waitForCall("chat.stopStream");
  assert.equal(h.slack.callsOf("chat.startStream")[0]?.args.thread_ts, ts);
  assert.match(JSON.stringify(h.slack.messages.find((message) => message.ts === answered.args.ts)?.chunks), /Signed and answered\./);

  assert.equal((await h.slack.deliverHttp(eventsUrl, payload, { secret, retryNum: 1 })).status, 200);
  // A later question, sent after the retry was acknowledged, runs; by its end the retry was long decided.
  const later = h.slack.nextTs();
  assert.equal((await h.slack.deliverHttp(eventsUrl, h.slack.eventCallback(userPost({ text: `<@${botUserId}> and later?`, ts: later })), { secret })).status, 200);
  await h.slack.waitForCall("chat.stopStream", (call) => call.args.ts !== answered.args.ts);
  assert.deepEqual(h.slack.callsOf("chat.startStream").map((call) => call.args.thread_ts), [ts, later]);
  assert.equal(h.model.requests.length, 2);
});
