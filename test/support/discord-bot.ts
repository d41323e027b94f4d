/**
 * The Discord bot wired as `threadbook start` wires it: the services (the
 * real agent, a Docker sandbox, SQLite, the model client from the settings),
 * then the adapters the settings configure, here Discord alone, pointed at
 * the emulator. Closing it is the bot's shutdown (services.close): no new
 * turns, running ones finished within the grace or stopped, the adapter
 * stopped. Sessions outlive a close, as they do for a restart; the caller
 * removes the instance's containers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { DiscordAdapter } from "../../src/adapters/discord/discord-adapter.ts";
import { createPlatformAdapters } from "../../src/adapters/platform-adapter.ts";
import { loadConfig } from "../../src/config.ts";
import { startServices, type Services } from "../../src/services.ts";
import { DiscordEmulator } from "../emulators/discord-server.ts";
import { startOpenAIServer, type OpenAIServer } from "../emulators/openai-server.ts";
import { removeInstance, testInstance } from "./sandbox.ts";

export interface DiscordBot {
  services: Services;
  adapter: DiscordAdapter;
}

export interface DiscordBotOptions {
  discord: DiscordEmulator;
  /** Settings as environment variables: the model's at least. */
  settings: Record<string, string>;
  dataDir: string;
  instance: string;
}

export async function startDiscordBot(options: DiscordBotOptions): Promise<DiscordBot> {
  const { discord } = options;
  const config = loadConfig({
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
    THREADBOOK_SANDBOX_POOL_SIZE: "1",
    THREADBOOK_SANDBOX_MEMORY_MB: "384",
    THREADBOOK_SHUTDOWN_GRACE_S: "5",
    ...options.settings,
    THREADBOOK_DATA_DIR: options.dataDir,
    THREADBOOK_INSTANCE: options.instance,
    DISCORD_TOKEN: discord.token,
    DISCORD_APPLICATION_ID: discord.applicationId,
    DISCORD_API_URL: discord.apiUrl,
  });
  const services = await startServices(config, { log: "file", poolSize: config.sandbox.poolSize, recoverInterruptedTurns: true, finishGraceMs: config.shutdownGraceMs, onStatus: () => undefined });
  try {
    const adapters = await createPlatformAdapters(config, services.agent, services.logger, services.skillReview);
    const adapter = adapters.find((candidate) => candidate instanceof DiscordAdapter);
    if (adapter === undefined || adapters.length !== 1) throw new Error(`the settings configured ${adapters.map((candidate) => candidate.name).join(", ") || "no adapter"}, not Discord alone`);
    services.onClose(() => adapter.stop());
    await adapter.start();
    return { services, adapter };
  } catch (error) {
    await services.close();
    throw error;
  }
}

/** An emulator, a model and a data directory that outlive the bots started on them, for a test of restarts. */
export interface DiscordWorld {
  discord: DiscordEmulator;
  model: OpenAIServer;
  dataDir: string;
  instance: string;
  /** Starts a bot on the world's data directory; every bot started is closed after the test. */
  start(settings?: Record<string, string>): Promise<DiscordBot>;
}

/**
 * A world removed after the test, bots first; the model's and the emulator's
 * scripts must then be played out. `settings` apply to every bot, under each start's own.
 */
export async function discordWorld(t: TestContext, apiKey: string, settings: Record<string, string> = {}): Promise<DiscordWorld> {
  const root = mkdtempSync(join(tmpdir(), "threadbook-discord-world-"));
  const instance = testInstance();
  const discord = await DiscordEmulator.start();
  const model = await startOpenAIServer({ apiKey });
  const bots: DiscordBot[] = [];
  t.after(async () => {
    for (const bot of bots) await bot.services.close();
    await removeInstance(instance);
    await discord.stop();
    await model.stop();
    rmSync(root, { recursive: true, force: true });
    model.assertDone();
    discord.assertDone();
  });
  const dataDir = join(root, "data");
  return {
    discord, model, dataDir, instance,
    async start(own = {}) {
      const bot = await startDiscordBot({
        discord, dataDir, instance,
        settings: { OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: model.baseURL, THREADBOOK_MODEL: "gpt-test", THREADBOOK_MODEL_MAX_RETRIES: "0", ...settings, ...own },
      });
      bots.push(bot);
      return bot;
    },
  };
}
