/**
 * `npm run bench [-- --json]`: how fast sessions and cells are, beside what a
 * naive bot does, the agent's own overhead per cell, what twenty approved
 * skills add to a warm acquire and to the model's instructions (in tokens),
 * what making room for a new conversation costs when every session slot is
 * taken, what a cell flooding the runner's descriptors costs the bot's
 * memory, the Discord adapter's deferral, first progress and own overhead
 * a turn, and how much of each model request of a five-cell turn repeats the
 * one before byte for byte (the prefix a provider's prompt cache can reuse),
 * and, last, fifty questions at once through Slack against `threadbook
 * start` with the model answering at once and taking 2 s a step
 * (`--load-only` runs just those). Prints figures, not pass/fail; progress goes to stderr. Everything runs one after another in
 * this process, so the two-core machines we run on are not shared between
 * measurements, and every container it made is removed at the end, on
 * failure and on Ctrl-C too.
 *
 * Sandbox settings come from the environment as the bot reads them
 * (THREADBOOK_SANDBOX_RUNTIME=runsc benchmarks gVisor, for example).
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig, type Config } from "../src/config.ts";
import { containerLimits } from "../src/docker-sandbox-options.ts";
import { ThreadbookError } from "../src/errors.ts";
import { connectDocker, sessionContainerName, type DockerSandbox, type DockerSandboxOptions } from "../src/sandbox/docker/docker-sandbox.ts";
import { measureColdAcquire, measureWarmAcquire } from "./acquire-bench.ts";
import { benchInstance, removeBenchContainers, startBenchSandbox } from "./bench-sandbox.ts";
import { measureEviction } from "./eviction-bench.ts";
import { measureFloodMemory, measureForgedListingMemory } from "./flood-memory-bench.ts";
import { measureLoad, type LoadRun } from "./load-bench.ts";
import { loadFigures, loadRows } from "./load-report.ts";
import { describeMachine } from "./machine.ts";
import { measureDiscord } from "./discord-bench.ts";
import { measureDockerExec, measureDockerRun } from "./naive-cell-bench.ts";
import { measurePrefix } from "./prefix-bench.ts";
import { measureSnapshots } from "./snapshot-bench.ts";
import { progress } from "./progress.ts";
import { measureSkills } from "./skills-bench.ts";
import { measureSlack } from "./slack-bench.ts";
import { benchResult, renderTable, type Measurements } from "./report.ts";
import { measureTurns } from "./turn-bench.ts";
import { measureWarmCells } from "./warm-cell-bench.ts";

/** Chosen so a run takes about a minute on two cores (the flood alone some seconds); medians settle well before. */
const SAMPLES = { warmAcquire: 10, skillAcquire: 10, coldAcquire: 5, warmCell: 500, dockerExec: 30, dockerRun: 10, oneCellTurn: 20, fiveCellTurn: 10, firstCell: 8, discordTurn: 20, slackTurn: 40 };
/** Session slots for the eviction figures: small, so filling them is quick; the eviction costs the same at any size. */
const EVICTION_SLOTS = 3;

/** Questions at once in the load figures, and the model's speeds: at once, and 2 s a step as real ones take. */
const LOAD = { questions: 50, modelDelaysMs: [0, 2000] };

const { values: flags } = parseArgs({ options: { json: { type: "boolean", default: false }, "load-only": { type: "boolean", default: false } } });

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ThreadbookError)) throw error;
    progress(error.message);
    process.exit(2);
  }
}

const config = readConfig();
const docker = connectDocker(config.sandbox.dockerHost);
const instance = benchInstance();
const open = new Set<DockerSandbox>();

async function cleanUp(): Promise<void> {
  await Promise.all([...open].map((sandbox) => sandbox.close().catch(() => undefined)));
  open.clear();
  try {
    const removed = await removeBenchContainers(docker, instance);
    progress(`removed ${removed} container(s) of ${instance}`);
  } catch (error) {
    progress(`could not remove the containers of ${instance} (${error instanceof Error ? error.message : String(error)}); remove them with: docker ps -aq --filter name=${instance} | xargs -r docker rm -f`);
  }
}

/** Aborted by Ctrl-C or SIGTERM: every measurement loop stops at its next sample. */
const stop = new AbortController();
let interruption: NodeJS.Signals | undefined;

/** Removes the containers at once; the measurement then stops, and its own clean-up catches any straggler. */
function interrupted(signal: NodeJS.Signals): void {
  if (interruption !== undefined) process.exit(130);
  interruption = signal;
  stop.abort(new Error(`interrupted by ${signal}`));
  progress(`${signal}: stopping and removing the benchmark's containers (${signal} again quits at once)`);
  void cleanUp();
  // Should the measurement hang on a container that is gone, leave anyway.
  setTimeout(() => process.exit(130), 20_000).unref();
}
process.on("SIGINT", interrupted);
process.on("SIGTERM", interrupted);

async function withSandbox<T>(name: string, poolSize: number, work: (sandbox: DockerSandbox) => Promise<T>, overrides: Partial<DockerSandboxOptions> = {}): Promise<T> {
  stop.signal.throwIfAborted();
  const sandbox = await startBenchSandbox(config, name, poolSize, overrides);
  open.add(sandbox);
  try {
    stop.signal.throwIfAborted();
    await sandbox.warmUp();
    return await work(sandbox);
  } finally {
    open.delete(sandbox);
    await sandbox.close();
  }
}

async function measure(): Promise<{ measured: Measurements; image: string; poolSize: number; evictionSlots: number }> {
  const poolSize = Math.max(1, config.sandbox.poolSize);
  progress(`instance ${instance}: starting a warm pool of ${poolSize}`);
  const warm = await withSandbox(instance, poolSize, async (sandbox) => {
    const warmAcquireMs = await measureWarmAcquire(sandbox, SAMPLES.warmAcquire, stop.signal);

    const skills = await measureSkills({ docker, sandbox, config, instance: `${instance}-compile` }, SAMPLES.skillAcquire, stop.signal);

    const cellsKey = "bench:cells";
    const session = await sandbox.acquire(cellsKey);
    await sandbox.warmUp(); // the refill the acquire started must not share the cores with the cells
    const cellWarmMs = await measureWarmCells(session, SAMPLES.warmCell, stop.signal);
    const container = docker.getContainer(sessionContainerName(instance, cellsKey));
    const cellDockerExecMs = await measureDockerExec(docker, container, SAMPLES.dockerExec, stop.signal);
    await sandbox.release(cellsKey);
    await sandbox.warmUp();

    const turns = await measureTurns(config, sandbox, { oneCell: SAMPLES.oneCellTurn, fiveCell: SAMPLES.fiveCellTurn }, stop.signal);
    await sandbox.warmUp();
    const prefix = await measurePrefix(config, sandbox, stop.signal);
    await sandbox.warmUp();
    const discord = await measureDiscord(config, sandbox, SAMPLES.discordTurn, stop.signal);
    const slack = await measureSlack(config, sandbox, SAMPLES.slackTurn, stop.signal);
    return { warmAcquireMs, skills, cellWarmMs, cellDockerExecMs, turns, prefix, discord, slack, image: sandbox.image };
  });

  const cellDockerRunMs = await measureDockerRun({ docker, image: warm.image, instance: `${instance}-run`, limits: containerLimits(config) }, SAMPLES.dockerRun, stop.signal);

  progress("cold acquires, pool size 0");
  const coldAcquireMs = await withSandbox(`${instance}-cold`, 0, (sandbox) => measureColdAcquire(sandbox, SAMPLES.coldAcquire, stop.signal));

  progress(`a new conversation's first cell with a free slot and with ${EVICTION_SLOTS} of ${EVICTION_SLOTS} slots idle`);
  const eviction = await withSandbox(`${instance}-slots`, 1, (sandbox) => measureEviction(sandbox, EVICTION_SLOTS, SAMPLES.firstCell, stop.signal), { maxSessions: EVICTION_SLOTS });

  // Last: the flood loads the cores and the Docker engine for a while after its cell ends.
  progress("a cell flooding every descriptor with 1 GB");
  const floodMemory = await withSandbox(`${instance}-flood`, 1, (sandbox) => measureFloodMemory(sandbox, stop.signal));
  progress("saving and putting back a namespace: a 100,000-row DataFrame, a fitted model, a dict of 10,000 items");
  const snapshots = await withSandbox(`${instance}-snapshot`, 1, (sandbox) => measureSnapshots(sandbox, 3, stop.signal));
  progress("a cell forging a listing through symlinks to /usr, its files read back");
  const forgedListingMemory = await withSandbox(`${instance}-forged`, 1, (sandbox) => measureForgedListingMemory(sandbox, stop.signal));

  const load = await measureLoadRuns();

  const { image, ...rest } = warm;
  return { measured: { ...rest, cellDockerRunMs, coldAcquireMs, firstCellFreeSlotMs: eviction.freeSlotMs, firstCellEvictingMs: eviction.evictingMs, floodMemory, forgedListingMemory, snapshots, load }, image, poolSize, evictionSlots: EVICTION_SLOTS };
}

/** The bot in its own process with its own containers, once a model speed; after the rest, as it loads every core. */
async function measureLoadRuns(): Promise<LoadRun[]> {
  const runs: LoadRun[] = [];
  for (const [index, modelDelayMs] of LOAD.modelDelaysMs.entries()) {
    stop.signal.throwIfAborted();
    runs.push(await measureLoad({ docker, instance: `${instance}-load${index}`, questions: LOAD.questions, modelDelayMs, signal: stop.signal }));
  }
  return runs;
}

/** Other containers and the load average: work beside the benchmark shares its cores, and its figures are then not comparable. */
async function busyness(): Promise<{ otherRunningContainers: number; loadAverage: number }> {
  const running = await docker.listContainers().catch(() => []);
  return {
    otherRunningContainers: running.filter((info) => !(info.Names[0] ?? "").startsWith(`/${instance}`)).length,
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** `--load-only`: the load figures alone, for a quicker run. */
async function loadOnly(): Promise<void> {
  let runs: LoadRun[];
  try {
    runs = await measureLoadRuns();
  } finally {
    await cleanUp();
  }
  const figures = runs.map(loadFigures);
  process.stdout.write(flags.json ? `${JSON.stringify({ load: figures }, null, 2)}\n` : `${loadRows(figures).join("\n")}\n`);
}

async function main(): Promise<void> {
  if (flags["load-only"]) return loadOnly();
  const started = performance.now();
  const busyAtStart = await busyness();
  let outcome: Awaited<ReturnType<typeof measure>>;
  try {
    outcome = await measure();
  } finally {
    await cleanUp();
  }
  stop.signal.throwIfAborted();
  const machine = await describeMachine(docker, config.sandbox.runtime);
  const contention = { atStart: busyAtStart, atEnd: await busyness() };
  const { memoryMb, cpus, pids } = config.sandbox;
  const result = benchResult(outcome.measured, { image: outcome.image, poolSize: outcome.poolSize, evictionSlots: outcome.evictionSlots, limits: { memoryMb, cpus, pids }, machine, contention, totalMs: performance.now() - started });
  process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : renderTable(result));
}

main().catch((error: unknown) => {
  if (interruption !== undefined) {
    process.exitCode = 130;
    return;
  }
  // A ThreadbookError's message says what to do (start Docker, build the image); anything else needs its stack.
  progress(`failed: ${error instanceof ThreadbookError ? error.message : error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
