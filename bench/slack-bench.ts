/**
 * The Slack adapter's own cost (issue 8): the real Bolt app in Socket Mode
 * against the Slack emulator, the real Agent, Docker sandbox and SQLite
 * store, and the `openai` SDK against the loopback model emulator, which
 * answers at once. Each sample is a one-cell follow-up in one thread (a warm
 * session), timed from the moment the emulator sends the event: to the
 * first sign of work (the assistant status), to the first streamed chunk
 * (chat.startStream), and to the end of the turn (the status taken back,
 * the adapter's last call). Right after each, the same turn goes straight to
 * the agent in a conversation of its own; the difference of the two is the
 * adapter's overhead for that turn. The emulator stamps each call as it
 * arrives, on this process's clock.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { conversationKey } from "../src/adapters/slack/conversation-key.ts";
import { SlackAdapter } from "../src/adapters/slack/slack-adapter.ts";
import type { Config } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import { silentLogger } from "../src/log.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, startOpenAIServer, textStep } from "../test/emulators/openai-server.ts";
import { SlackServer, type SlackCall } from "../test/emulators/slack-server.ts";
import { progress } from "./progress.ts";
import { roundMs, summarize, timed } from "./statistics.ts";

const team = "T0BENCH";
const channel = "C0BENCH";
const user = "U0BENCH";
const botUserId = "U0BOT";
const CELL = "1 + 1";
const ANSWER = "Two.";
const UNMEASURED_WARM_UPS = 3;

export interface SlackSamples {
  /** Event sent → the assistant status set on the thread. */
  firstSignMs: number[];
  /** Event sent → chat.startStream, the first streamed chunk (the cell's task card). */
  firstChunkMs: number[];
  /** Event sent → the status taken back, after the reply and its files. */
  turnMs: number[];
  /** The same turn through agent.handle alone, question in to reply out. */
  coreTurnMs: number[];
  /** turnMs − coreTurnMs, pair by pair. */
  overheadMs: number[];
}

export async function measureSlack(config: Config, sandbox: DockerSandbox, count: number, signal: AbortSignal): Promise<SlackSamples> {
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-bench-slack-"));
  const slack = await SlackServer.start({ botToken: "xoxb-bench", appToken: "xapp-bench", teamId: team, botUserId });
  const model = await startOpenAIServer();
  const store = openSqliteStore(dataDir);
  const client = createModelClient({ ...config.model, apiKey: "sk-bench", baseURL: model.baseURL, name: "gpt-bench", maxRetries: 0 });
  const agent = new Agent({ model: client, sandbox, store, settings: config });
  const adapter = new SlackAdapter({
    settings: { botToken: "xoxb-bench", appToken: "xapp-bench", signingSecret: undefined, apiUrl: slack.apiUrl, streaming: true, allowedTeams: [], allowedChannels: [], allowedUsers: [], httpPort: 0 },
    agent, logger: silentLogger,
  });
  const coreKey = "bench:slack-core";
  let root: string | undefined;
  try {
    await adapter.start();
    await slack.whenConnected();

    const slackTurn = async () => {
      model.script([codeStep(CELL), textStep(ANSWER)]);
      const ts = slack.nextTs();
      const thread = root ?? ts;
      root = thread;
      const event = ts === thread
        ? { type: "app_mention", user, text: `<@${botUserId}> one plus one?`, ts, event_ts: ts, channel, team }
        : { type: "message", channel_type: "channel", user, text: "one plus one?", ts, event_ts: ts, thread_ts: thread, channel, team };
      const since = slack.calls.length;
      const after = (method: string, matches: (call: SlackCall) => boolean) => slack.waitForCall(method, (call) => slack.calls.indexOf(call) >= since && call.args.thread_ts === thread && matches(call));
      const sign = after("assistant.threads.setStatus", (call) => call.args.status !== "");
      const chunk = after("chat.startStream", () => true);
      const end = after("assistant.threads.setStatus", (call) => call.args.status === "");
      const sent = performance.now();
      await slack.deliver(event);
      const [signCall, chunkCall, endCall] = await Promise.all([sign, chunk, end]);
      return { firstSignMs: signCall.at - sent, firstChunkMs: chunkCall.at - sent, turnMs: endCall.at - sent };
    };
    const coreTurn = async () => {
      model.script([codeStep(CELL), textStep(ANSWER)]);
      const { value: reply, ms } = await timed(() => agent.handle({ conversationKey: coreKey, user: { platform: "bench", id: user, workspace: null, displayName: null }, text: "one plus one?", attachments: [] }));
      if (reply === null || reply.error !== null || reply.text !== ANSWER) throw new Error(`a benchmark turn went wrong: ${JSON.stringify(reply?.error ?? reply)}`);
      return ms;
    };

    // The first turns acquire the two sessions and so start pool refills; let them finish before timing.
    await slackTurn();
    await coreTurn();
    await sandbox.warmUp();
    for (let index = 0; index < UNMEASURED_WARM_UPS; index += 1) {
      await slackTurn();
      await coreTurn();
    }
    const samples: SlackSamples = { firstSignMs: [], firstChunkMs: [], turnMs: [], coreTurnMs: [], overheadMs: [] };
    for (let index = 0; index < count; index += 1) {
      signal.throwIfAborted();
      const through = await slackTurn();
      const core = await coreTurn();
      samples.firstSignMs.push(through.firstSignMs);
      samples.firstChunkMs.push(through.firstChunkMs);
      samples.turnMs.push(through.turnMs);
      samples.coreTurnMs.push(core);
      samples.overheadMs.push(through.turnMs - core);
    }
    progress(`Slack turns beside the same turns without the adapter: ${count} pairs`);
    await agent.idle();
    model.assertDone();
    slack.assertDone();
    return samples;
  } finally {
    await adapter.stop();
    if (root !== undefined) await sandbox.release(conversationKey(team, channel, root)).catch(() => undefined);
    await sandbox.release(coreKey).catch(() => undefined);
    await store.close();
    await model.stop();
    await slack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const SLACK_TARGETS = {
  /** `firstSignMs` at the 95th percentile under this. */
  firstSignP95Ms: 300,
  /** The median of `overheadMs` under this. */
  overheadMs: 50,
};

export interface SlackFigure {
  median: number;
  p95: number;
  samples: number;
}

export type SlackFigures = Record<keyof SlackSamples, SlackFigure>;

/** Median and nearest-rank 95th percentile of each series. */
export function slackFigures(samples: SlackSamples): SlackFigures {
  const figure = (series: number[]): SlackFigure => {
    const sorted = [...series].sort((a, b) => a - b);
    const p95 = sorted[Math.max(1, Math.ceil(0.95 * sorted.length)) - 1] ?? Number.NaN;
    return { median: roundMs(summarize(series).median), p95: roundMs(p95), samples: series.length };
  };
  return {
    firstSignMs: figure(samples.firstSignMs),
    firstChunkMs: figure(samples.firstChunkMs),
    turnMs: figure(samples.turnMs),
    coreTurnMs: figure(samples.coreTurnMs),
    overheadMs: figure(samples.overheadMs),
  };
}
