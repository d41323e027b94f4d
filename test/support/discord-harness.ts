/**
 * The Discord adapter under test: the real discord.js client against the
 * Discord emulator, a real Agent with a real Docker sandbox, a real SQLite
 * store and the scripted OpenAI emulator; the skill library the model
 * proposes to, and its review with the approvers the test names.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { loadConfig, type DiscordSettings } from "../../src/config.ts";
import { DiscordAdapter } from "../../src/adapters/discord/discord-adapter.ts";
import { Agent } from "../../src/core/agent.ts";
import { FileDownloads } from "../../src/core/file-downloads.ts";
import { createModelClient } from "../../src/core/model/create-model-client.ts";
import { captureLogger, type CapturedLog } from "./capture-logger.ts";
import type { DockerSandbox } from "../../src/sandbox/docker/docker-sandbox.ts";
import { SkillLibrary } from "../../src/skills/skill-library.ts";
import { SkillReview } from "../../src/skills/skill-review.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.ts";
import { DiscordEmulator, type DiscordEmulatorOptions } from "../emulators/discord-server.ts";
import { startOpenAIServer, type OpenAIServer } from "../emulators/openai-server.ts";

const apiKey = "sk-test-discord-0123456789";

export interface DiscordHarness {
  discord: DiscordEmulator;
  model: OpenAIServer;
  agent: Agent;
  store: SqliteStore;
  adapter: DiscordAdapter;
  skills: SkillLibrary;
  /** The adapter's and the agent's log. */
  log: CapturedLog;
}

export interface HarnessOptions {
  emulator?: DiscordEmulatorOptions;
  settings?: Partial<DiscordSettings>;
  env?: Record<string, string>;
  /** THREADBOOK_SKILL_APPROVERS: e.g. ["discord:456"]; none by default. */
  approvers?: string[];
}

export async function discordHarness(t: TestContext, sandbox: DockerSandbox, dataRoot: string, options: HarnessOptions = {}): Promise<DiscordHarness> {
  const dataDir = join(dataRoot, randomBytes(4).toString("hex"));
  const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_CELL_TIMEOUT_S: "30", ...options.env });
  const discord = await DiscordEmulator.start(options.emulator);
  const model = await startOpenAIServer({ apiKey });
  const store = openSqliteStore(dataDir);
  const client = createModelClient({ ...config.model, apiKey, baseURL: model.baseURL, name: "gpt-test", api: "responses", maxRetries: 0, timeoutMs: 20_000, stream: true });
  const log = captureLogger();
  // The compile check is the library's (test/skills-*.test.ts); here every proposal compiles.
  const skills = new SkillLibrary(store.skills, async () => null);
  const downloads = new FileDownloads({ directory: join(dataDir, "incoming"), maxBytes: config.sandbox.fileMb * 1024 * 1024, maxAtOnce: config.capacity.maxDownloads });
  const agent = new Agent({ model: client, sandbox, store, settings: config, logger: log.logger, skills, downloads });
  const settings: DiscordSettings = {
    token: discord.token, applicationId: discord.applicationId, apiUrl: discord.apiUrl,
    allowedGuilds: [], allowedChannels: [], allowedRoles: [], ...options.settings,
  };
  const skillReview = new SkillReview(skills, options.approvers ?? []);
  const adapter = new DiscordAdapter({ settings, agent, logger: log.logger, skillReview });
  t.after(async () => {
    agent.interrupt();
    await agent.idle();
    await adapter.stop();
    for (const channel of discord.channels.keys()) {
      await sandbox.release(`discord:${discord.guildId}:${channel}`);
      await sandbox.release(`discord:dm:${channel}`);
    }
    await store.close();
    await discord.stop();
    const errors = log.lines().filter((line) => Number(line.level) >= 50);
    if (errors.length > 0 && process.env.DISCORD_TEST_LOG) console.error(errors);
    await model.stop();
    model.assertDone();
    discord.assertDone();
  });
  await adapter.start();
  return { discord, model, agent, store, adapter, skills, log };
}
