/**
 * How much of each model request a provider's prompt cache can reuse
 * (issue 16): a realistic five-cell turn (pandas on generated data, one cell
 * a step, then the answer) through the real Agent, Docker sandbox, SQLite
 * store and `openai` SDK against the loopback emulator, on each API, and a
 * one-cell follow-up in the same conversation. For each step after the
 * first, the bytes of its request body that repeat the previous request's
 * body byte for byte from the start (the prefix a provider can cache), as a
 * share of the step's request; and the bytes each step sends. On Responses
 * the emulated reasoning model hands out encrypted reasoning items, which
 * the client sends back in place, so they are in the bytes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config, ModelApi } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { TurnUser } from "../src/core/turn.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { sharedPrefix } from "../test/emulators/openai-prompt-cache.ts";
import { codeStep, startOpenAIServer, textStep, type ScriptedStep } from "../test/emulators/openai-server.ts";
import { progress } from "./progress.ts";

const CELLS = [
  'import numpy as np\nimport pandas as pd\nrng = np.random.default_rng(7)\ndf = pd.DataFrame({"region": rng.choice(["north", "south", "east", "west"], 500), "amount": rng.gamma(2.0, 30.0, 500).round(2)})\ndf.head()',
  "df.describe()",
  'by_region = df.groupby("region")["amount"].agg(["count", "mean", "median"]).round(2)\nby_region',
  'top = by_region.sort_values("median", ascending=False).index[0]\ntop',
  "df[df.region == top].amount.quantile([0.25, 0.5, 0.75])",
];
const REMARKS = ["Let me make the data first.", "Now its summary.", "By region.", "The region with the highest median.", "Its quartiles."];
const ANSWER = "The region with the highest median order amount is shown above, with its quartiles; the summary by region is in the table.";
const FOLLOW_UP_CELL = 'df.groupby("region")["amount"].sum().round(2)';
const BENCH_USER: TurnUser = { platform: "bench", id: "user", workspace: null, displayName: null };

export interface PrefixRun {
  api: ModelApi;
  /** Bytes of each step's request body, the five-cell turn's six steps then the follow-up's two. */
  stepBytes: number[];
  /** For each step but the very first: the bytes that repeat the previous request from its start, over the step's bytes. */
  repeatShares: number[];
  /** The same over the previous request's bytes: how much of what was sent is sent again unchanged. */
  previousRepeated: number[];
  /** Bytes of the previous request not repeated (its end: the input's closing brackets and what follows them). */
  unrepeatedBytes: number[];
  /** Requests of the five-cell turn (six); the rest are the follow-up's. */
  turnSteps: number;
}

export interface PrefixMeasurements {
  runs: PrefixRun[];
}

async function measureApi(config: Config, sandbox: DockerSandbox, api: ModelApi): Promise<PrefixRun> {
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-bench-prefix-"));
  const emulator = await startOpenAIServer();
  const store = openSqliteStore(dataDir);
  const conversation = `bench:prefix:${api}`;
  try {
    const model = createModelClient({ ...config.model, api, apiKey: "sk-bench", baseURL: emulator.baseURL, name: "gpt-bench", maxRetries: 0 });
    const agent = new Agent({ model, sandbox, store, settings: config });
    emulator.script([...CELLS.map((code, index): ScriptedStep => ({ type: "code", calls: [{ code }], text: REMARKS[index] ?? "" })), textStep(ANSWER)]);
    const turn = await agent.handle({ conversationKey: conversation, user: BENCH_USER, text: "Which region has the highest median order amount, and what are its quartiles?", attachments: [] });
    emulator.script([codeStep(FOLLOW_UP_CELL), textStep("The totals by region are above.")]);
    const followUp = await agent.handle({ conversationKey: conversation, user: BENCH_USER, text: "And the total by region?", attachments: [] });
    for (const reply of [turn, followUp]) {
      if (reply.error !== null || reply.cells.some((cell) => cell.error !== null)) throw new Error(`a prefix benchmark turn went wrong: ${JSON.stringify({ error: reply.error, cells: reply.cells.map((cell) => cell.error) })}`);
    }
    await agent.idle();
    emulator.assertDone();
    const bodies = emulator.requests.map((request) => request.bodyText);
    const stepBytes = bodies.map((body) => Buffer.byteLength(body));
    const shared = bodies.slice(1).map((body, index) => Buffer.byteLength(body.slice(0, sharedPrefix(bodies[index] ?? "", body))));
    progress(`prompt prefix, ${api}: ${bodies.length} requests`);
    return {
      api,
      stepBytes,
      repeatShares: shared.map((bytes, index) => bytes / (stepBytes[index + 1] ?? 1)),
      previousRepeated: shared.map((bytes, index) => bytes / (stepBytes[index] ?? 1)),
      unrepeatedBytes: shared.map((bytes, index) => (stepBytes[index] ?? 0) - bytes),
      turnSteps: CELLS.length + 1,
    };
  } finally {
    await sandbox.release(conversation).catch(() => undefined);
    await store.close();
    await emulator.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function measurePrefix(config: Config, sandbox: DockerSandbox, signal: AbortSignal): Promise<PrefixMeasurements> {
  const runs: PrefixRun[] = [];
  for (const api of ["responses", "chat"] as const) {
    signal.throwIfAborted();
    runs.push(await measureApi(config, sandbox, api));
  }
  return { runs };
}
