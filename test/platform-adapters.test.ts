/** `threadbook start` starts an adapter for each platform whose settings are present, and none otherwise. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import type { ModelClient } from "../src/core/model/model-client.ts";
import { silentLogger } from "../src/log.ts";
import { captureLogger } from "./support/capture-logger.ts";
import type { Sandbox } from "../src/sandbox/sandbox.ts";
import { createPlatformAdapters, hasConfiguredPlatform } from "../src/adapters/platform-adapter.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { skillCompileCheck } from "../src/docker-sandbox-options.ts";
import { SkillLibrary } from "../src/skills/skill-library.ts";
import { SkillReview } from "../src/skills/skill-review.ts";

// Pointed at a closed loopback port all the same, should anything try to connect.
const slack = { SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1", SLACK_API_URL: "http://127.0.0.1:9/api/" };
const discord = { DISCORD_TOKEN: "discord-token", DISCORD_APPLICATION_ID: "123456789012345678", DISCORD_API_URL: "http://127.0.0.1:9/api" };

// Nothing here runs a turn: creating adapters connects nowhere.
const unusedModel: ModelClient = { description: "unused", step: () => Promise.reject(new Error("no model call expected")) };
const unusedSandbox = {} as Sandbox;

for (const [label, env, names] of [
  ["no platform", {}, []],
  ["Slack", slack, ["slack"]],
  ["Discord", discord, ["discord"]],
  ["Slack and Discord", { ...slack, ...discord }, ["slack", "discord"]],
] as const) {
  test(`${label} configured: ${names.length === 0 ? "the local chat" : names.join(" and ")}`, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), "threadbook-platforms-"));
    const store = openSqliteStore(dataDir);
    t.after(async () => {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, ...env });
    const agent = new Agent({ model: unusedModel, sandbox: unusedSandbox, store, settings: config });
    assert.equal(hasConfiguredPlatform(config), names.length > 0);
    const review = new SkillReview(new SkillLibrary(store.skills, skillCompileCheck(config)), config.skills.approvers);
    const adapters = await createPlatformAdapters(config, agent, silentLogger, review);
    assert.deepEqual(adapters.map((adapter) => adapter.name), names);
  });
}

test("a platform with no allow-list draws one warning at start naming its settings; one with an allow-list none", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-platforms-"));
  const store = openSqliteStore(dataDir);
  t.after(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const warningsFor = async (env: Record<string, string>) => {
    const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, ...env });
    const agent = new Agent({ model: unusedModel, sandbox: unusedSandbox, store, settings: config });
    const review = new SkillReview(new SkillLibrary(store.skills, skillCompileCheck(config)), config.skills.approvers);
    const log = captureLogger();
    await createPlatformAdapters(config, agent, log.logger, review);
    return log.lines().filter((line) => line["level"] === 40).map((line) => String(line["msg"]));
  };
  const open = await warningsFor({ ...slack, ...discord });
  assert.equal(open.length, 2);
  assert.match(open[0] ?? "", /^Slack is open to everyone: .*SLACK_ALLOWED_TEAMS/);
  assert.match(open[1] ?? "", /^Discord is open to everyone: .*DISCORD_ALLOWED_GUILDS.*Public Bot/);
  assert.deepEqual(await warningsFor({ ...slack, SLACK_ALLOWED_TEAMS: "T0TEAM", ...discord, DISCORD_ALLOWED_GUILDS: "900000000000000001" }), []);
  const onlySlackOpen = await warningsFor({ ...slack, ...discord, DISCORD_ALLOWED_ROLES: "200000000000000001" });
  assert.equal(onlySlackOpen.length, 1);
  assert.match(onlySlackOpen[0] ?? "", /^Slack/);
});
