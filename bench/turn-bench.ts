/**
 * The harness's own cost per cell (issue 3): the real Agent, the real Docker
 * sandbox, a real SQLite store in a temporary directory, and the real
 * `openai` SDK against the loopback emulator, which answers at once. A turn
 * is timed from question in to reply out, in a warm session of one
 * conversation; the cells' own run time, as the runner reports it, is
 * subtracted, and what is left is the model round trips, the store, the
 * transcript and the reply, shared out over the cells.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { Reply, TurnUser } from "../src/core/turn.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, startOpenAIServer, textStep, type OpenAIServer } from "../test/emulators/openai-server.ts";
import { progress } from "./progress.ts";
import { timed } from "./statistics.ts";

const ONE_CELL = ["1 + 1"];
/** One cell a model step, as a model working step by step writes them. */
const FIVE_CELLS = ["a = 1", "b = a + 1", "c = b * 2", "d = c - 1", "d"];
const ANSWER = "Done.";
const CONVERSATION = "bench:turns";
const UNMEASURED_WARM_UPS = 2;
const BENCH_USER: TurnUser = { platform: "bench", id: "user", workspace: null, displayName: null };

export interface TurnSamples {
  cells: number;
  /** Question in → reply out. */
  turnMs: number[];
  /** Sum of the cells' `durationMs`, per turn. */
  cellRunMs: number[];
  /** (turn − cells' run time) / cells, per turn. */
  overheadPerCellMs: number[];
}

export interface TurnMeasurements {
  oneCell: TurnSamples;
  fiveCell: TurnSamples;
  modelApi: string;
  modelStream: boolean;
}

class TurnDriver {
  readonly #agent: Agent;
  readonly #emulator: OpenAIServer;

  constructor(agent: Agent, emulator: OpenAIServer) {
    this.#agent = agent;
    this.#emulator = emulator;
  }

  /** Plays one turn whose model writes `cells`, one a step, then answers. */
  async play(cells: readonly string[]): Promise<{ reply: Reply; ms: number }> {
    this.#emulator.script([...cells.map((code) => codeStep(code)), textStep(ANSWER)]);
    const { value: reply, ms } = await timed(() => this.#agent.handle({ conversationKey: CONVERSATION, user: BENCH_USER, text: "What is the result?", attachments: [] }));
    const failed = reply.cells.find((cell) => cell.error !== null);
    if (reply.error !== null || reply.limit !== null || reply.cells.length !== cells.length || failed || reply.text !== ANSWER) {
      throw new Error(`a benchmark turn went wrong: ${JSON.stringify({ error: reply.error, limit: reply.limit, cells: reply.cells.length, cellError: failed?.error, text: reply.text.slice(0, 300) })}`);
    }
    return { reply, ms };
  }

  async sample(cells: readonly string[], count: number, into: TurnSamples, signal: AbortSignal): Promise<void> {
    for (let index = 0; index < count; index += 1) {
      signal.throwIfAborted();
      const { reply, ms } = await this.play(cells);
      const cellRunMs = reply.cells.reduce((sum, cell) => sum + cell.durationMs, 0);
      into.turnMs.push(ms);
      into.cellRunMs.push(cellRunMs);
      into.overheadPerCellMs.push((ms - cellRunMs) / cells.length);
    }
    progress(`${cells.length}-cell turns: ${count} samples`);
  }
}

export async function measureTurns(config: Config, sandbox: DockerSandbox, counts: { oneCell: number; fiveCell: number }, signal: AbortSignal): Promise<TurnMeasurements> {
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-bench-"));
  const emulator = await startOpenAIServer();
  const store = openSqliteStore(dataDir);
  try {
    const model = createModelClient({ ...config.model, apiKey: "sk-bench", baseURL: emulator.baseURL, name: "gpt-bench", maxRetries: 0 });
    const agent = new Agent({ model, sandbox, store, settings: config });
    const driver = new TurnDriver(agent, emulator);
    // The first turn acquires the session and so starts a pool refill; let it finish before timing.
    await driver.play(ONE_CELL);
    await sandbox.warmUp();
    for (let index = 0; index < UNMEASURED_WARM_UPS; index += 1) {
      await driver.play(ONE_CELL);
      await driver.play(FIVE_CELLS);
    }
    const oneCell: TurnSamples = { cells: ONE_CELL.length, turnMs: [], cellRunMs: [], overheadPerCellMs: [] };
    const fiveCell: TurnSamples = { cells: FIVE_CELLS.length, turnMs: [], cellRunMs: [], overheadPerCellMs: [] };
    await driver.sample(ONE_CELL, counts.oneCell, oneCell, signal);
    await driver.sample(FIVE_CELLS, counts.fiveCell, fiveCell, signal);
    await agent.idle();
    emulator.assertDone();
    return { oneCell, fiveCell, modelApi: config.model.api, modelStream: config.model.stream };
  } finally {
    await sandbox.release(CONVERSATION).catch(() => undefined);
    await store.close();
    await emulator.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
