/**
 * Questions a crash left unanswered, on Discord: a process killed while its
 * turns ran leaves them `running` in the store; the bot started on that data
 * directory (wired as `threadbook start` wires it, test/support/discord-bot.ts)
 * tells each conversation once, in its thread or DM, to ask again. Not for a
 * turn older than the window, nor another platform's, nor a key that does
 * not parse or names another guild; a channel gone or one the bot may not
 * post in is logged and the others are still told; a second restart tells
 * nobody again.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { interruptedNoticeWindowMs } from "../src/adapters/discord/interrupted-turns.ts";
import type { UserRecord } from "../src/store/store.ts";
import { componentsV2Flag, snowflake, textDisplays, user, type RecordedCall } from "./emulators/discord-server.ts";
import { textStep } from "./emulators/openai-server.ts";
import { crashWhileRunning, type CrashedTurn } from "./support/crashed-turns.ts";
import { discordWorld } from "./support/discord-bot.ts";

const apiKey = "sk-test-discord-interrupted-0123";
const ada = user("100000000000000001", "Ada");
const grace = user("100000000000000002", "Grace");
const minute = 60_000;

function discordUser(who: { id: string; global_name: string | null }): UserRecord {
  return { platform: "discord", id: who.id, workspace: null, displayName: who.global_name };
}

const postsTo = (channelId: string) => (call: RecordedCall) => call.method === "POST" && call.path === `/channels/${channelId}/messages`;

test("after a crash, each Discord conversation whose question was running in the last hour is told once to ask again", async (t) => {
  const { discord, model, dataDir, start } = await discordWorld(t, apiKey);
  const thread = discord.openThread(discord.bot.id, "orders by city");
  const dm = discord.dm(grace);
  const locked = discord.openThread(discord.bot.id, "a thread the bot may no longer post in");
  discord.denySend(locked.id);
  const stale = discord.openThread(discord.bot.id, "a question from yesterday");
  const elsewhere = discord.openThread(discord.bot.id, "a thread of this guild");
  const question = "@everyone and <@&200000000000000002>:\nhow many **orders** did each `city` place in March, _by week_? And chart them please";
  const now = Date.now();
  const turns: CrashedTurn[] = [
    { conversationKey: `discord:${discord.guildId}:${snowflake()}`, user: discordUser(ada), text: "a thread deleted since", startedAt: now - 50 * minute },
    { conversationKey: `discord:${discord.guildId}:${locked.id}`, user: discordUser(ada), text: "in the locked thread", startedAt: now - 45 * minute },
    { conversationKey: `discord:dm:not-a-channel`, user: discordUser(ada), text: "a key that does not parse", startedAt: now - 42 * minute },
    { conversationKey: `discord:${snowflake()}:${elsewhere.id}`, user: discordUser(ada), text: "a key naming another guild", startedAt: now - 41 * minute },
    { conversationKey: `discord:${discord.guildId}:${thread.id}`, user: discordUser(ada), text: question, startedAt: now - 40 * minute },
    { conversationKey: `discord:dm:${dm.id}`, user: discordUser(grace), text: "Sum the sales", startedAt: now - 5 * minute },
    { conversationKey: `discord:${discord.guildId}:${stale.id}`, user: discordUser(ada), text: "too long ago", startedAt: now - interruptedNoticeWindowMs - 10 * minute },
    { conversationKey: "slack:T1:C1:1700000000.000100", user: { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" }, text: "asked on Slack", startedAt: now - 3 * minute },
  ];
  const [gone, lockedTurn, unparsable, otherGuild, , , old, slack] = crashWhileRunning(dataDir, turns);

  const first = await start();
  await first.adapter.idle();

  const threadPosts = discord.calls.filter(postsTo(thread.id));
  assert.equal(threadPosts.length, 1, "one note in the thread");
  assert.equal(
    threadPosts[0]!.body.content,
    `I was restarted while answering <@${ada.id}>'s question ` +
      "(“@everyone and <@&200000000000000002>: how many \\*\\*orders\\*\\* did each \\`city\\` place…”), " +
      "so it has no answer. Please ask it again; files shared here before it are kept.",
  );
  assert.deepEqual(threadPosts[0]!.body.allowed_mentions, { parse: [], users: [ada.id] }, "pings the asker alone");
  assert.equal((threadPosts[0]!.body.flags ?? 0) & componentsV2Flag, 0);
  const dmPosts = discord.calls.filter(postsTo(dm.id));
  assert.deepEqual(dmPosts.map((call) => call.body.content), [
    `I was restarted while answering <@${grace.id}>'s question (“Sum the sales”), so it has no answer. Please ask it again; files shared here before it are kept.`,
  ]);
  assert.deepEqual(discord.calls.filter(postsTo(locked.id)).length, 1, "tried, and Discord refused");
  assert.deepEqual(discord.messagesIn(locked.id), []);
  for (const untold of [stale, elsewhere]) assert.deepEqual(discord.calls.filter(postsTo(untold.id)), [], `nothing in ${untold.name}`);
  assert.equal(discord.calls.filter((call) => call.method === "POST" && call.path.endsWith("/messages")).length, 3, "only the three notes were posted");

  const log = readFileSync(join(dataDir, "threadbook.log"), "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
  const said = (turnId: string | undefined) => log.filter((line) => line.turn === turnId).map((line) => line.msg);
  assert.deepEqual(said(gone), ["could not tell the conversation its question went unanswered in a restart"]);
  assert.deepEqual(said(lockedTurn), ["could not tell the conversation its question went unanswered in a restart"]);
  assert.deepEqual(said(unparsable), ["a turn a restart interrupted has a conversation key that is not Discord's; not told"]);
  assert.deepEqual(said(otherGuild), ["the channel of a turn a restart interrupted cannot take messages or is not the conversation's; not told"]);
  assert.deepEqual(said(old), ["a turn a restart interrupted is too old to tell about"]);
  assert.ok(!log.some((line) => JSON.stringify(line).includes(question.slice(0, 20))), "the question's text is not logged");
  assert.deepEqual((await first.services.store.takeInterruptedTurns("slack")).map((turn) => turn.id), [slack], "the Slack turn is left for Slack's adapter");
  assert.equal((await first.services.store.getTurn(old!))?.status, "failed");

  // The failures did not stop the bot: it answers in the thread.
  model.script([textStep("Here again.")]);
  const mark = discord.calls.length;
  discord.post({ author: ada, channelId: thread.id, content: "How many orders?" });
  await discord.waitFor((call) => discord.calls.indexOf(call) >= mark && postsTo(thread.id)(call));
  await first.services.agent.idle();
  await first.adapter.idle();
  assert.match(textDisplays(discord.messagesIn(thread.id).at(-1)!.components).join("\n"), /Here again\./);
  await first.services.close();

  // A second restart finds nothing left to tell.
  const again = discord.calls.length;
  const second = await start();
  await second.adapter.idle();
  assert.deepEqual(discord.calls.slice(again).filter((call) => call.method === "POST" && call.path.startsWith("/channels/")).map((call) => call.path), [], "nobody is told twice");
});
