/**
 * Replicas of the real `threadbook start` on one database and one Docker
 * host, each with its own data directory and Socket Mode connection to the
 * Slack emulator, started one at a time so that the emulator's connection
 * `index` is replica `index`'s (for `deliver`'s `connection`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { OpenAIServer } from "../emulators/openai-server.ts";
import type { SlackServer } from "../emulators/slack-server.ts";
import { BotProcess } from "./bot-process.ts";
import { until } from "./until.ts";

export interface SlackReplicasOptions {
  count: number;
  /** Holds each replica's data directory; their working directory. */
  root: string;
  instance: string;
  databaseUrl: string;
  slack: SlackServer;
  model: OpenAIServer;
  secrets: { botToken: string; appToken: string; apiKey: string };
  /** Settings of every replica, over the defaults here (no warm pool, 384 MB sessions, debug logs). */
  settings?: Record<string, string>;
}

export async function startSlackReplicas(options: SlackReplicasOptions): Promise<BotProcess[]> {
  const { root, slack, model, secrets } = options;
  const replicas: BotProcess[] = [];
  for (let index = 0; index < options.count; index++) {
    const replica = new BotProcess({
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? root,
      ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
      OPENAI_API_KEY: secrets.apiKey,
      OPENAI_BASE_URL: model.baseURL,
      THREADBOOK_MODEL: "gpt-test",
      THREADBOOK_MODEL_MAX_RETRIES: "0",
      THREADBOOK_DATABASE_URL: options.databaseUrl,
      THREADBOOK_DATA_DIR: join(root, `data-${index}`),
      THREADBOOK_INSTANCE: options.instance,
      THREADBOOK_SANDBOX_POOL_SIZE: "0",
      THREADBOOK_SANDBOX_MEMORY_MB: "384",
      THREADBOOK_SHUTDOWN_GRACE_S: "5",
      THREADBOOK_LOG_LEVEL: "debug",
      ...options.settings,
      SLACK_BOT_TOKEN: secrets.botToken,
      SLACK_APP_TOKEN: secrets.appToken,
      SLACK_API_URL: slack.apiUrl,
    }, root);
    replicas.push(replica);
    await until(() => slack.connections === index + 1 || replica.stderr.includes('"level":50'), `replica ${index} connects`, 120_000);
    assert.equal(slack.connections, index + 1, replica.stderr);
  }
  return replicas;
}
