/**
 * The bot's shutdown with a turn running on Slack and on Discord at once:
 * the services and both adapters wired as `threadbook start` wires them
 * (real Bolt and discord.js against their emulators, a real agent, Docker
 * sandbox and SQLite store, the scripted model). The adapters stop side by
 * side within one grace: both begin to stop before either has ended, and
 * each posts its stopped turn's reply before it disconnects.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createPlatformAdapters } from "../src/adapters/platform-adapter.ts";
import { loadConfig } from "../src/config.ts";
import { shutdownMessage } from "../src/core/stop-reason.ts";
import { startServices } from "../src/services.ts";
import { DiscordEmulator, textDisplays, user } from "./emulators/discord-server.ts";
import { codeStep, startOpenAIServer } from "./emulators/openai-server.ts";
import { SlackServer } from "./emulators/slack-server.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";
import { botUserId, team, userPost } from "./support/slack-harness.ts";
import { until } from "./support/until.ts";

const apiKey = "sk-test-shutdown-0123456789";
const ada = user("100000000000000001", "Ada");

test("with a turn running on each platform, both adapters stop at once within the grace, each posting its stopped turn's reply first", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "threadbook-shutdown-"));
  const instance = testInstance();
  const botToken = `xoxb-${randomBytes(6).toString("hex")}`;
  const appToken = `xapp-${randomBytes(6).toString("hex")}`;
  const slack = await SlackServer.start({ botToken, appToken, teamId: team, botUserId });
  const discord = await DiscordEmulator.start();
  const model = await startOpenAIServer({ apiKey });
  t.after(async () => {
    await removeInstance(instance);
    await slack.stop();
    await discord.stop();
    await model.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const config = loadConfig({
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
    THREADBOOK_DATA_DIR: join(root, "data"), THREADBOOK_INSTANCE: instance,
    THREADBOOK_SANDBOX_POOL_SIZE: "2", THREADBOOK_SANDBOX_MEMORY_MB: "384", THREADBOOK_CELL_TIMEOUT_S: "600",
    THREADBOOK_SHUTDOWN_GRACE_S: "3",
    OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: model.baseURL, THREADBOOK_MODEL: "gpt-test", THREADBOOK_MODEL_MAX_RETRIES: "0",
    SLACK_BOT_TOKEN: botToken, SLACK_APP_TOKEN: appToken, SLACK_API_URL: slack.apiUrl, SLACK_ALLOWED_TEAMS: team,
    DISCORD_TOKEN: discord.token, DISCORD_APPLICATION_ID: discord.applicationId, DISCORD_API_URL: discord.apiUrl, DISCORD_ALLOWED_GUILDS: discord.guildId,
  });
  const services = await startServices(config, { log: "file", poolSize: config.sandbox.poolSize, recoverInterruptedTurns: true, finishGraceMs: config.shutdownGraceMs, onStatus: () => undefined });
  const events: string[] = [];
  const adapters = await createPlatformAdapters(config, services.agent, services.logger, services.skillReview);
  assert.deepEqual(adapters.map((adapter) => adapter.name), ["slack", "discord"]);
  for (const adapter of adapters) {
    // As runStart registers them, each stop recorded as it begins and ends.
    services.onClose(async (deadline) => {
      events.push(`${adapter.name} stop begins`);
      await adapter.stop(deadline);
      events.push(`${adapter.name} stop ends`);
    });
    await adapter.start();
  }
  await slack.whenConnected();

  // Nothing scripted after the cells: a turn that went on to ask the model would be a fault.
  model.script([codeStep("import time\nprint('working', flush=True)\ntime.sleep(3600)"), codeStep("import time\nprint('working', flush=True)\ntime.sleep(3600)")]);
  const slackThread = slack.nextTs();
  slack.onCall((call) => {
    if (call.method === "chat.stopStream" && call.args.channel !== undefined) events.push("slack reply posted");
  });
  await slack.deliver(userPost({ text: `<@${botUserId}> wait for an hour`, ts: slackThread }));
  const discordThread = discord.openThread(discord.bot.id, "a question");
  discord.post({ author: ada, channelId: discordThread.id, content: "Wait for an hour too" });
  await discord.waitFor((call) => call.path.startsWith(`/channels/${discordThread.id}/messages`) && JSON.stringify(call.body).includes("Cell 1: running"));
  await until(() => slack.messages.some((message) => message.threadTs === slackThread && message.chunks.some((chunk) => chunk.type === "task_update" && chunk.id === "cell-1")), "the Slack turn's cell runs", 60_000);
  assert.equal(services.agent.status("any").botRunning, 2);
  void discord.waitFor((call) => call.path.startsWith(`/channels/${discordThread.id}/messages`) && JSON.stringify(call.body).includes(shutdownMessage)).then(() => events.push("discord reply posted"));

  await services.close();

  const position = (event: string) => {
    const index = events.indexOf(event);
    assert.ok(index >= 0, `${event} in ${events.join(", ")}`);
    return index;
  };
  const lastBegin = Math.max(position("slack stop begins"), position("discord stop begins"));
  const firstEnd = Math.min(position("slack stop ends"), position("discord stop ends"));
  assert.ok(lastBegin < firstEnd, `both adapters began to stop before either ended: ${events.join(", ")}`);
  assert.ok(position("slack reply posted") < position("slack stop ends"), events.join(", "));
  assert.ok(position("discord reply posted") < position("discord stop ends"), events.join(", "));
  const discordReply = discord.messagesIn(discordThread.id).filter((message) => message.author.id === discord.bot.id).map((message) => textDisplays(message.components).join("\n")).join("\n");
  assert.match(discordReply, /shutting down/);
  const slackReply = slack.messages.filter((message) => message.threadTs === slackThread).map((message) => JSON.stringify(message)).join("\n");
  assert.match(slackReply, /shutting down/);
  model.assertDone();
  slack.assertDone();
  discord.assertDone();
});
