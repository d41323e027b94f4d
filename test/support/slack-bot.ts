/**
 * The real `threadbook start` in a child process with its Slack in Socket
 * Mode against the Slack emulator and its model the scripted emulator, for
 * tests that load it or hurt it: its own data directory and Docker instance,
 * small sessions, and `settings` on top. `restart` starts another bot on the
 * same data, instance and emulators, as after a crash; `model` may be
 * replaced by a server brought back on the same port.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { startOpenAIServer, type OpenAIServer } from "../emulators/openai-server.ts";
import { SlackServer } from "../emulators/slack-server.ts";
import { BotProcess } from "./bot-process.ts";
import { botUserId, team } from "./slack-harness.ts";

export interface SlackBot {
  slack: SlackServer;
  model: OpenAIServer;
  bot: BotProcess;
  instance: string;
  /** A new bot process on the same data and emulators (the old one must have exited); resolves once it is connected. */
  restart(): Promise<void>;
  /** Stops the model service, then starts one again on the same port with an empty script. */
  modelDown(): Promise<() => Promise<OpenAIServer>>;
  /** Stops the bot (SIGTERM) and the emulators, checking neither saw a fault. */
  stop(): Promise<void>;
}

export async function startSlackBot(options: { root: string; instance: string; settings?: Record<string, string> }): Promise<SlackBot> {
  const secrets = { botToken: `xoxb-${randomBytes(8).toString("hex")}`, appToken: `xapp-${randomBytes(8).toString("hex")}`, apiKey: `sk-test-${randomBytes(8).toString("hex")}` };
  const slack = await SlackServer.start({ botToken: secrets.botToken, appToken: secrets.appToken, teamId: team, botUserId });
  let model = await startOpenAIServer({ apiKey: secrets.apiKey });
  const env = (): Record<string, string> => ({
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? options.root,
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
    OPENAI_API_KEY: secrets.apiKey,
    OPENAI_BASE_URL: model.baseURL,
    THREADBOOK_MODEL: "gpt-test",
    THREADBOOK_MODEL_MAX_RETRIES: "0",
    THREADBOOK_DATA_DIR: join(options.root, "data"),
    THREADBOOK_INSTANCE: options.instance,
    THREADBOOK_SANDBOX_POOL_SIZE: "1",
    THREADBOOK_SANDBOX_MEMORY_MB: "384",
    THREADBOOK_LOG_LEVEL: "debug",
    SLACK_BOT_TOKEN: secrets.botToken,
    SLACK_APP_TOKEN: secrets.appToken,
    SLACK_API_URL: slack.apiUrl,
    ...options.settings,
  });
  /** A bot process, once connected: the connection is awaited from before the spawn, so none is missed. */
  const spawnBot = async (): Promise<BotProcess> => {
    const connection = slack.nextConnection(120_000);
    const bot = new BotProcess(env(), options.root);
    await Promise.race([connection, bot.exited().then(() => { throw new Error(`threadbook exited before it connected:\n${bot.stderr}`); })]);
    return bot;
  };
  const handle: SlackBot = {
    slack, model, instance: options.instance,
    bot: await spawnBot(),
    restart: async () => {
      handle.bot = await spawnBot();
    },
    modelDown: async () => {
      const port = Number(new URL(model.baseURL).port);
      await model.stop();
      model.assertDone();
      return async () => {
        model = await startOpenAIServer({ apiKey: secrets.apiKey, port });
        handle.model = model;
        return model;
      };
    },
    stop: async () => {
      try {
        await handle.bot.stop();
      } finally {
        await model.stop();
        await slack.stop();
      }
      model.assertDone();
      slack.assertDone();
    },
  };
  return handle;
}
