/**
 * What a follow-up costs when it lands on another replica than the turn
 * before it. Two Agents share one Postgres (started here from Debian's
 * packages, as the tests start it) and one Docker host, handing sessions on
 * between turns; the model is the scripted emulator, so the figures are
 * threadbook's own: the store's round trips, the conversation's lease, and
 * resuming the session (attach and ping) on the other replica. One follow-up
 * of one cell each, on the same replica and on the other, and the same turn
 * on one process with SQLite (no lease round trips over the network, no hand-off) as the baseline.
 *
 *   node bench/replica-bench.ts [samples]   # prints medians and p90 in ms
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { TurnUser } from "../src/core/turn.ts";
import Docker from "dockerode";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openPostgresStore } from "../src/store/postgres-store.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import type { Store } from "../src/store/store.ts";
import { codeStep, startOpenAIServer, textStep } from "../test/emulators/openai-server.ts";
import { startPostgres } from "../test/support/postgres.ts";
import { benchInstance, removeBenchContainers, startBenchSandbox } from "./bench-sandbox.ts";
import { progress } from "./progress.ts";
import { summarize, timed } from "./statistics.ts";

const samples = Number(process.argv[2] ?? 10);
const apiKey = "sk-bench-replicas-0123456789";
const user: TurnUser = { platform: "bench", id: "u", workspace: null, displayName: null };
const config = loadConfig({ THREADBOOK_SANDBOX_MEMORY_MB: "384" });
const instance = benchInstance();
const dataDir = mkdtempSync(join(tmpdir(), "tb-replica-bench-"));
const [postgres, emulator] = await Promise.all([startPostgres(), startOpenAIServer({ apiKey })]);
const sandboxes: DockerSandbox[] = [];
const stores: Store[] = [];
try {
  for (let index = 0; index < 2; index++) sandboxes.push(await startBenchSandbox(config, instance, 1));
  const url = await postgres.createDatabase();
  const agent = (store: Store, sandbox: DockerSandbox, handOffSessions: boolean) => {
    stores.push(store);
    const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-bench", api: "responses", maxRetries: 0, timeoutMs: 30_000 });
    return new Agent({ model, sandbox, store, settings: config, handOffSessions });
  };
  const [first, second] = [agent(await openPostgresStore(url), sandboxes[0]!, true), agent(await openPostgresStore(url), sandboxes[1]!, true)];
  const alone = agent(openSqliteStore(dataDir), sandboxes[0]!, false);

  /** A first turn on `opener`, then the follow-up on `follower`, timed; both one cell. */
  const followUp = async (opener: Agent, follower: Agent, key: string): Promise<number> => {
    emulator.script([codeStep("x = 1"), textStep("set"), codeStep("x += 1\nprint(x)"), textStep("2")]);
    await opener.handle({ conversationKey: key, user, text: "set x", attachments: [] });
    const { value: reply, ms } = await timed(() => follower.handle({ conversationKey: key, user, text: "x + 1", attachments: [] }));
    if (reply.error !== null || reply.text !== "2") throw new Error(`the follow-up failed: ${reply.error ?? reply.text}`);
    await sandboxes[0]!.release(key);
    return ms;
  };
  const figures: Record<string, number[]> = { "SQLite, one process": [], "Postgres, same replica": [], "Postgres, other replica": [] };
  for (let index = 0; index < samples; index++) {
    figures["SQLite, one process"]!.push(await followUp(alone, alone, `bench:alone:${index}`));
    figures["Postgres, same replica"]!.push(await followUp(first, first, `bench:same:${index}`));
    figures["Postgres, other replica"]!.push(await followUp(first, second, `bench:other:${index}`));
    progress(`sample ${index + 1}/${samples}`);
  }
  emulator.assertDone();
  for (const [name, times] of Object.entries(figures)) {
    const summary = summarize(times);
    process.stdout.write(`${name.padEnd(26)} follow-up turn (one cell): median ${summary.median.toFixed(0)} ms, p90 ${summary.p90.toFixed(0)} ms (n=${summary.count})\n`);
  }
} finally {
  for (const store of stores) await store.close();
  for (const sandbox of sandboxes) await sandbox.close();
  await removeBenchContainers(new Docker(), instance);
  await emulator.stop();
  await postgres.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
