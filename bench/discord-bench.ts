/**
 * The Discord adapter's figures (issue 9): the real discord.js client
 * against the Discord emulator on loopback, the real Agent, the warm Docker
 * sandbox, SQLite, and the scripted model answering at once. Each sample is
 * `/ask` in a thread the bot owns (answered in place, one warm session):
 * from the interaction's dispatch on the gateway to its deferral, to the
 * status message, to its first edit, and to the reply in place. Beside each
 * Discord turn the same turn runs through the core alone (agent.handle, a
 * conversation of its own, equally warm), so the adapter's own cost per turn
 * is the one less the other, measured in the same run, interleaved.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiscordAdapter } from "../src/adapters/discord/discord-adapter.ts";
import type { Config } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import { silentLogger } from "../src/log.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { DiscordEmulator, user, type RecordedCall } from "../test/emulators/discord-server.ts";
import { codeStep, startOpenAIServer, textStep } from "../test/emulators/openai-server.ts";
import { progress } from "./progress.ts";

const CELL = "1 + 1";
const ANSWER = "Done.";
const CORE_CONVERSATION = "bench:discord-core";
const UNMEASURED_WARM_UPS = 2;
const asker = user("100000000000000001", "Bench");

export interface DiscordMeasurements {
  /** Interaction dispatched → its deferral (callback type 5) received. */
  deferralMs: number[];
  /** Interaction dispatched → the status message posted in the thread. */
  statusPostedMs: number[];
  /** Interaction dispatched → the status message's first edit (the cell running). */
  firstEditMs: number[];
  /** Interaction dispatched → the reply in the status message's place, the handler done. */
  discordTurnMs: number[];
  /** The same one-cell turn through agent.handle alone, question in to reply out. */
  coreTurnMs: number[];
  /** discordTurnMs − coreTurnMs, sample by sample. */
  adapterOverheadMs: number[];
}

export async function measureDiscord(config: Config, sandbox: DockerSandbox, samples: number, signal: AbortSignal): Promise<DiscordMeasurements> {
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-bench-discord-"));
  const discord = await DiscordEmulator.start();
  const model = await startOpenAIServer();
  const store = openSqliteStore(dataDir);
  const client = createModelClient({ ...config.model, apiKey: "sk-bench", baseURL: model.baseURL, name: "gpt-bench", maxRetries: 0 });
  const agent = new Agent({ model: client, sandbox, store, settings: config });
  const settings = { token: discord.token, applicationId: discord.applicationId, apiUrl: discord.apiUrl, allowedGuilds: [], allowedChannels: [], allowedRoles: [] };
  const adapter = new DiscordAdapter({ settings, agent, logger: silentLogger });
  const thread = discord.openThread(discord.bot.id, "benchmark");
  const threadConversation = `discord:${discord.guildId}:${thread.id}`;
  try {
    await adapter.start();

    const discordTurn = async () => {
      model.script([codeStep(CELL), textStep(ANSWER)]);
      const mark = discord.calls.length;
      const since = (test: (call: RecordedCall) => boolean) => (call: RecordedCall) => discord.calls.indexOf(call) >= mark && test(call);
      const started = performance.now();
      const { token } = discord.command({ name: "ask", user: asker, channelId: thread.id, options: [{ name: "question", type: 3, value: "What is the result?" }] });
      const deferral = await discord.waitFor(since((call) => call.path.endsWith(`/${token}/callback`)));
      await adapter.idle();
      const ended = performance.now();
      const inThread = (call: RecordedCall) => call.path.startsWith(`/channels/${thread.id}/messages`);
      const posted = discord.calls.slice(mark).find((call) => inThread(call) && call.method === "POST");
      const edits = discord.calls.slice(mark).filter((call) => inThread(call) && call.method === "PATCH");
      const reply = edits.at(-1);
      if (deferral.body?.type !== 5 || posted === undefined || edits.length < 2 || !JSON.stringify(reply?.body).includes(ANSWER)) {
        throw new Error(`a Discord benchmark turn went wrong: ${JSON.stringify({ deferral: deferral.body, posted: posted !== undefined, edits: edits.length, reply: reply?.body })}`);
      }
      return { deferralMs: deferral.at - started, statusPostedMs: posted.at - started, firstEditMs: edits[0]!.at - started, turnMs: ended - started };
    };
    const coreTurn = async () => {
      model.script([codeStep(CELL), textStep(ANSWER)]);
      const started = performance.now();
      const reply = await agent.handle({ conversationKey: CORE_CONVERSATION, user: { platform: "bench", id: "user", workspace: null, displayName: null }, text: "What is the result?", attachments: [] });
      if (reply.error !== null || reply.text !== ANSWER) throw new Error(`a core benchmark turn went wrong: ${JSON.stringify(reply.error ?? reply.text)}`);
      return performance.now() - started;
    };

    // The first turn of each conversation acquires its session and starts a pool refill; let it finish before timing.
    await discordTurn();
    await coreTurn();
    await sandbox.warmUp();
    for (let index = 0; index < UNMEASURED_WARM_UPS; index += 1) {
      await discordTurn();
      await coreTurn();
    }
    const measured: DiscordMeasurements = { deferralMs: [], statusPostedMs: [], firstEditMs: [], discordTurnMs: [], coreTurnMs: [], adapterOverheadMs: [] };
    for (let index = 0; index < samples; index += 1) {
      signal.throwIfAborted();
      const viaDiscord = await discordTurn();
      const coreMs = await coreTurn();
      measured.deferralMs.push(viaDiscord.deferralMs);
      measured.statusPostedMs.push(viaDiscord.statusPostedMs);
      measured.firstEditMs.push(viaDiscord.firstEditMs);
      measured.discordTurnMs.push(viaDiscord.turnMs);
      measured.coreTurnMs.push(coreMs);
      measured.adapterOverheadMs.push(viaDiscord.turnMs - coreMs);
    }
    progress(`Discord turns: ${samples} samples, each beside the same turn through the core alone`);
    await agent.idle();
    model.assertDone();
    discord.assertDone();
    return measured;
  } finally {
    await adapter.stop();
    await sandbox.release(threadConversation).catch(() => undefined);
    await sandbox.release(CORE_CONVERSATION).catch(() => undefined);
    await store.close();
    await discord.stop();
    await model.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
