/**
 * The Discord bot's life around its turns, wired as `threadbook start`
 * wires it (test/support/discord-bot.ts): shutdown lets a running turn
 * finish within the grace and delivers its answer, stops one still running
 * after it and says so, and refuses a question asked meanwhile; after a
 * restart (a new client with a fresh cache, the same store), an event
 * delivered again does not run again, and the thread goes on with its
 * session.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { componentsV2Flag, DiscordEmulator, textDisplays, user, type ApiMessage, type RecordedCall } from "./emulators/discord-server.ts";
import { codeStep, textStep } from "./emulators/openai-server.ts";
import { discordWorld } from "./support/discord-bot.ts";

const apiKey = "sk-test-discord-lifecycle-0123";
const ada = user("100000000000000001", "Ada");
const shutdownMessage = "The turn was stopped because threadbook is shutting down.";

function botMessages(discord: DiscordEmulator, channelId: string): ApiMessage[] {
  return discord.messagesIn(channelId).filter((message) => message.author.id === discord.bot.id && (message.flags & componentsV2Flag) !== 0);
}

function textOf(message: ApiMessage | undefined): string {
  return message === undefined ? "" : textDisplays(message.components).join("\n");
}

const after = (discord: DiscordEmulator, mark: number, test: (call: RecordedCall) => boolean) => (call: RecordedCall) => discord.calls.indexOf(call) >= mark && test(call);
const cellRunning = (channelId: string) => (call: RecordedCall) => call.path.startsWith(`/channels/${channelId}/messages`) && JSON.stringify(call.body).includes("Cell 1: running");
const typingIn = (channelId: string) => (call: RecordedCall) => call.method === "POST" && call.path === `/channels/${channelId}/typing`;

test("shutdown lets a running turn finish within the grace and posts its answer; a question asked meanwhile is refused plainly", async (t) => {
  const w = await discordWorld(t, apiKey, { THREADBOOK_CELL_TIMEOUT_S: "600" });
  const bot = await w.start({ THREADBOOK_SHUTDOWN_GRACE_S: "120" });
  const thread = w.discord.openThread(w.discord.bot.id, "a question");
  // The cell's three seconds are the turn's work, long past the DM's delivery, which the test awaits.
  w.model.script([codeStep("import time\ntime.sleep(3)\nprint('finished the work')"), textStep("Done before the shutdown.")]);
  const mark = w.discord.calls.length;
  w.discord.post({ author: ada, channelId: thread.id, content: "Take three seconds" });
  await w.discord.waitFor(after(w.discord, mark, cellRunning(thread.id)));

  const closing = bot.services.close();
  const dm = w.discord.dm(ada);
  w.discord.post({ author: ada, channelId: dm.id, content: "Anyone there?" });
  await w.discord.waitFor((call) => call.method === "POST" && call.path === `/channels/${dm.id}/messages`);
  assert.equal(textOf(botMessages(w.discord, dm.id)[0]), shutdownMessage);
  await closing;

  const answers = botMessages(w.discord, thread.id);
  assert.equal(answers.length, 1, "the answer replaced the status message");
  assert.match(textOf(answers[0]), /Done before the shutdown\./);
  assert.match(textOf(answers[0]), /finished the work/);
  assert.equal(bot.adapter.client?.isReady(), false, "disconnected");
  assert.equal(w.model.requests.length, 2, "the refused question never reached the model");
});

test("shutdown stops a turn still running after the grace and says so in its thread", async (t) => {
  const w = await discordWorld(t, apiKey, { THREADBOOK_CELL_TIMEOUT_S: "600" });
  const bot = await w.start({ THREADBOOK_SHUTDOWN_GRACE_S: "1" });
  const thread = w.discord.openThread(w.discord.bot.id, "a question");
  // Nothing scripted after the cell: a turn that went on to ask the model would be a fault.
  w.model.script([codeStep("import time\ntime.sleep(3600)")]);
  const mark = w.discord.calls.length;
  w.discord.post({ author: ada, channelId: thread.id, content: "Wait for an hour" });
  await w.discord.waitFor(after(w.discord, mark, cellRunning(thread.id)));
  await bot.services.close();
  const answers = botMessages(w.discord, thread.id);
  assert.equal(answers.length, 1);
  assert.match(textOf(answers[0]), new RegExp(shutdownMessage.replace(/\./g, "\\.")));
  assert.ok(!JSON.stringify(answers[0]!.components).includes('"custom_id"'), "no Stop button is left");
});

test("after a restart, a message and an /ask delivered again do not run again, and the thread keeps its session", async (t) => {
  const w = await discordWorld(t, apiKey, { THREADBOOK_CELL_TIMEOUT_S: "600" });
  const first = await w.start();
  w.model.script([codeStep("kept = 41"), textStep("Stored."), codeStep("kept + 1"), textStep("It is 42.")]);
  const ask = w.discord.command({ name: "ask", user: ada, options: [{ name: "question", type: 3, value: "Store 41 as kept" }] });
  await w.discord.waitFor((call) => call.path.endsWith(`/${ask.token}/callback`));
  await first.adapter.idle();
  const thread = w.discord.threads()[0]!;
  let mark = w.discord.calls.length;
  const followUp = w.discord.post({ author: ada, channelId: thread.id, content: "Add one" });
  await w.discord.waitFor(after(w.discord, mark, typingIn(thread.id)));
  await first.adapter.idle();
  assert.match(textOf(botMessages(w.discord, thread.id).at(-1)), /It is 42\./);
  await first.services.close();

  const second = await w.start();
  mark = w.discord.calls.length;
  w.discord.redeliver(followUp);
  w.discord.redeliverInteraction(ask.token);
  // The interaction follows the message on the gateway: once its acknowledgement is tried, the message's handler runs too.
  const refusedAck = await w.discord.waitFor(after(w.discord, mark, (call) => call.path.endsWith(`/${ask.token}/callback`)));
  await second.adapter.idle();
  assert.equal(refusedAck.body.type, 5, "the deferral was tried, and Discord refused a second one");
  assert.equal(w.model.requests.length, 4, "neither ran again");
  assert.equal(w.discord.threads().length, 1, "no second thread");
  const sentSince = w.discord.calls.slice(mark).filter((call) => call.method !== "GET" && !call.path.endsWith(`/${ask.token}/callback`));
  assert.deepEqual(sentSince.map((call) => `${call.method} ${call.path}`), [], "no typing and nothing posted for the deliveries again");
  const logLines = readFileSync(join(w.dataDir, "threadbook.log"), "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
  assert.ok(logLines.some((line) => line.msg === "duplicate event dropped" && line.eventKey === `discord:message:${followUp.id}`), "the message delivered again reached the core, which dropped it");
  assert.deepEqual(logLines.filter((line) => Number(line.level) >= 50), [], "no error logged for the deliveries again");

  w.model.script([codeStep("kept + 2"), textStep("It is 43.")]);
  mark = w.discord.calls.length;
  w.discord.post({ author: ada, channelId: thread.id, content: "Add two" });
  await w.discord.waitFor(after(w.discord, mark, typingIn(thread.id)));
  await second.adapter.idle();
  const last = textOf(botMessages(w.discord, thread.id).at(-1));
  assert.match(last, /It is 43\./);
  assert.match(last, /```\n43\n```/, "the session's variables survived the restart");
});

test("a replica running shard 1 of 2 identifies as that shard on the gateway and answers there", async (t) => {
  const w = await discordWorld(t, apiKey);
  const bot = await w.start({ DISCORD_SHARDS: "1", DISCORD_SHARD_COUNT: "2" });
  assert.deepEqual(w.discord.gateway.identifiedShards, [[1, 2]], "one connection, for shard 1 of 2");
  w.model.script([textStep("On shard one.")]);
  const ask = w.discord.command({ name: "ask", user: ada, options: [{ name: "question", type: 3, value: "Which shard?" }] });
  await w.discord.waitFor((call) => call.path.endsWith(`/${ask.token}/callback`));
  await bot.adapter.idle();
  const thread = w.discord.threads()[0]!;
  assert.match(textOf(botMessages(w.discord, thread.id).at(-1)), /On shard one\./);
});
