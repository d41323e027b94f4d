/**
 * The busy workspace of load-bench.ts served by one replica and by three,
 * every replica a real `threadbook start` on one Postgres (started here from
 * Debian's packages, as the tests start it) and the machine's Docker engine,
 * the Slack emulator spreading the questions over their connections as Slack
 * spreads an app's events. The model takes `delay` ms a step, as real ones
 * do. The figure is the ratio of p95 times to answer, three replicas over
 * one, side by side in one run; on one machine the replicas share its CPUs,
 * so what it shows is what replicas cost (the lease, the hand-off, the
 * shared database), not what more machines would add.
 *
 *   bash scripts/with-node.sh node bench/replica-load-bench.ts [questions] [delay ms]   # 50 and 2000 by default
 */
import Docker from "dockerode";
import { startPostgres } from "../test/support/postgres.ts";
import { benchInstance } from "./bench-sandbox.ts";
import { measureLoad } from "./load-bench.ts";
import { loadFigures, type LoadFigures } from "./load-report.ts";
import { progress } from "./progress.ts";

const questions = Number(process.argv[2] ?? 50);
const modelDelayMs = Number(process.argv[3] ?? 2_000);
const docker = new Docker();
const postgres = await startPostgres();
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
try {
  const runs: { replicas: number; figures: LoadFigures }[] = [];
  for (const replicas of [1, 3]) {
    progress(`${questions} questions at once over ${replicas} replica(s) on one Postgres`);
    const run = await measureLoad({ docker, instance: `${benchInstance()}-r${replicas}`, questions, modelDelayMs, signal: stop.signal, replicas, databaseUrl: await postgres.createDatabase() });
    runs.push({ replicas, figures: loadFigures(run) });
  }
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`${questions} questions at once, the model ${modelDelayMs / 1000} s a step, on one Postgres:`);
  console.log("replicas | lone | p50 | p95 | p95 / lone | answered once | told they wait | peak memory (largest replica)");
  for (const { replicas, figures } of runs) {
    console.log(`${replicas} | ${seconds(figures.loneMedianMs)} | ${seconds(figures.p50Ms)} | ${seconds(figures.p95Ms)} | ${figures.p95OverLone}x | ${figures.answeredOnce} / ${figures.questions} | ${figures.toldWaiting} / ${figures.questions} | ${figures.peakMemoryMb} MB`);
  }
  const [one, three] = [runs[0]!.figures, runs[1]!.figures];
  console.log(`p95, three replicas over one: ${(three.p95Ms / one.p95Ms).toFixed(2)}x; p50: ${(three.p50Ms / one.p50Ms).toFixed(2)}x`);
} finally {
  await postgres.stop();
}

