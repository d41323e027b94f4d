/**
 * The Slack adapter wired for a test: the real Bolt app against the Slack
 * emulator, a real Agent with the scripted model, a real Docker sandbox and
 * a real SQLite store. Each harness is torn down, its sessions released and
 * both emulators checked, when its test ends.
 */
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { SlackAdapter } from "../../src/adapters/slack/slack-adapter.ts";
import { loadConfig, type SlackSettings } from "../../src/config.ts";
import { createLogger, silentLogger, type Logger } from "../../src/log.ts";
import { join } from "node:path";
import { Agent } from "../../src/core/agent.ts";
import { FileDownloads } from "../../src/core/file-downloads.ts";
import { createModelClient } from "../../src/core/model/create-model-client.ts";
import type { DockerSandbox } from "../../src/sandbox/docker/docker-sandbox.ts";
import { SkillLibrary } from "../../src/skills/skill-library.ts";
import { SkillReview } from "../../src/skills/skill-review.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.ts";
import { startOpenAIServer, type OpenAIServer } from "../emulators/openai-server.ts";
import { SlackServer } from "../emulators/slack-server.ts";

export const team = "T0TEAM";
export const botUserId = "U0BOT";
export const ada = "U0ADA";
export const channel = "C0CHAN";
const apiKey = "sk-test-slack-0123456789";

export interface SlackHarness {
  slack: SlackServer;
  model: OpenAIServer;
  agent: Agent;
  store: SqliteStore;
  adapter: SlackAdapter;
  dataDir: string;
  /** HTTP mode: the signing secret and the app's request URL on 127.0.0.1. */
  http: { secret: string; eventsUrl: string } | undefined;
  /**
   * Starts another adapter (and agent) on the same data, as after a restart:
   * on the same store, or with `reopenStore` on the store closed and opened
   * again, as a new process opens it (failing the turns left running).
   */
  restart(options?: { reopenStore?: boolean }): Promise<void>;
}

export interface HarnessOptions {
  settings?: Partial<SlackSettings>;
  dataDir: string;
  sandbox: DockerSandbox;
  /** "http": signed HTTP events to Bolt's HTTPReceiver on a loopback port instead of Socket Mode. */
  mode?: "socket" | "http";
  /** THREADBOOK_SKILL_APPROVERS, e.g. ["slack:U0ADA"]; none by default. */
  approvers?: string[];
  /** The adapter's logger, e.g. one that captures lines; silent (or THREADBOOK_TEST_LOG) by default. */
  logger?: Logger;
  /** More settings for the agent, as environment variables (e.g. THREADBOOK_USER_TURNS_PER_HOUR). */
  env?: Record<string, string>;
  /** Sets the emulator up before the adapter first starts (which already calls the Web API). */
  prepareSlack?: (slack: SlackServer) => void;
}

export async function startSlackHarness(t: TestContext, options: HarnessOptions): Promise<SlackHarness> {
  const botToken = `xoxb-${randomBytes(6).toString("hex")}`;
  const appToken = `xapp-${randomBytes(6).toString("hex")}`;
  const slack = await SlackServer.start({ botToken, appToken, teamId: team, botUserId });
  options.prepareSlack?.(slack);
  const model = await startOpenAIServer({ apiKey });
  const config = loadConfig({ THREADBOOK_DATA_DIR: options.dataDir, THREADBOOK_CELL_TIMEOUT_S: "30", ...options.env });
  const http = options.mode === "http";
  const signingSecret = randomBytes(16).toString("hex");
  const settings: SlackSettings = {
    botToken, appToken: http ? undefined : appToken, signingSecret: http ? signingSecret : undefined, apiUrl: slack.apiUrl, streaming: true,
    allowedTeams: [], allowedChannels: [], allowedUsers: [], httpPort: 0, ...options.settings,
  };
  const client = createModelClient({ ...config.model, apiKey, baseURL: model.baseURL, name: "gpt-test", api: "responses", maxRetries: 0, timeoutMs: 20_000, stream: true });
  const logger = options.logger ?? testLogger();
  const build = (store: SqliteStore) => {
    // Proposed Python is not compiled here: the tests that need the check are the skills tests.
    const skills = new SkillLibrary(store.skills, async () => null);
    const skillReview = new SkillReview(skills, options.approvers ?? []);
    const downloads = new FileDownloads({ directory: join(options.dataDir, "incoming"), maxBytes: 1024 * 1024, maxAtOnce: 4 });
    const agent = new Agent({ model: client, sandbox: options.sandbox, store, settings: config, skills, downloads });
    const adapter = new SlackAdapter({ settings, agent, logger, socketPingTimeoutMs: 500, httpHost: "127.0.0.1", skillReview });
    return { store, agent, adapter };
  };
  const harness = { slack, model, dataDir: options.dataDir, http: undefined, ...build(openSqliteStore(options.dataDir)) } as SlackHarness;
  const started = async () => {
    await harness.adapter.start();
    harness.http = http ? { secret: signingSecret, eventsUrl: `http://127.0.0.1:${harness.adapter.httpPort}/slack/events` } : undefined;
  };
  harness.restart = async (restartOptions = {}) => {
    await harness.adapter.stop();
    let store = harness.store;
    if (restartOptions.reopenStore === true) {
      await harness.agent.idle();
      await store.close();
      store = openSqliteStore(options.dataDir);
    }
    Object.assign(harness, build(store));
    await started();
  };
  // Registered first, so an adapter whose start failed is torn down too.
  t.after(async () => {
    harness.agent.interrupt();
    await harness.agent.idle();
    await harness.adapter.stop();
    await harness.store.close();
    await model.stop();
    await slack.stop();
    model.assertDone();
    slack.assertDone();
  });
  await started();
  if (!http) await slack.whenConnected();
  return harness;
}

/** Silent, unless THREADBOOK_TEST_LOG names a level, to see the adapter's log while a test runs. */
function testLogger() {
  const level = process.env.THREADBOOK_TEST_LOG;
  return level ? createLogger({ level, destination: 2 }) : silentLogger;
}

/** A user's post in a channel, as the Events API describes it. */
export function userPost(fields: { text: string; ts: string; user?: string; channel?: string; threadTs?: string; type?: "app_mention" | "message"; channelType?: string; files?: object[] }): Record<string, unknown> {
  return {
    type: fields.type ?? "app_mention", user: fields.user ?? ada, text: fields.text, ts: fields.ts, channel: fields.channel ?? channel,
    event_ts: fields.ts, team,
    ...(fields.threadTs === undefined ? {} : { thread_ts: fields.threadTs }),
    ...(fields.channelType === undefined ? {} : { channel_type: fields.channelType }),
    ...(fields.files === undefined ? {} : { files: fields.files, subtype: "file_share" }),
  };
}

/** A click on a button of a bot message in a thread, as Slack sends it over Socket Mode. */
export function buttonClick(fields: { actionId: string; type: string; value: string; messageTs: string; threadTs: string; user?: string; channel?: string }): Record<string, unknown> {
  const where = fields.channel ?? channel;
  return {
    type: "block_actions", api_app_id: "A1", token: "verification", trigger_id: "1.2.3",
    team: { id: team, domain: "emulated" }, user: { id: fields.user ?? ada, name: "ada", team_id: team },
    channel: { id: where, name: "data" },
    container: { type: "message", message_ts: fields.messageTs, channel_id: where, is_ephemeral: false, thread_ts: fields.threadTs },
    message: { type: "message", ts: fields.messageTs, thread_ts: fields.threadTs, text: "", user: botUserId },
    actions: [{ type: fields.type, action_id: fields.actionId, block_id: "b1", value: fields.value, action_ts: "1700000000.1" }],
  };
}
