/**
 * The figures: one JSON object (`--json`) and a table for people. Medians
 * are the headline; p90 and sample counts travel with them. Targets are
 * shown beside the figures, but nothing here passes or fails.
 */
import type { DiscordMeasurements } from "./discord-bench.ts";
import { discordFigures, discordRows, type DiscordFigures } from "./discord-report.ts";
import type { FloodMemory } from "./flood-memory-bench.ts";
import type { LoadRun } from "./load-bench.ts";
import { loadFigures, loadRows, type LoadFigures } from "./load-report.ts";
import type { SnapshotFigures } from "./snapshot-bench.ts";
import type { MachineInfo } from "./machine.ts";
import type { PrefixMeasurements } from "./prefix-bench.ts";
import { prefixFigures, prefixRows, type PrefixFigures } from "./prefix-report.ts";
import type { SkillAcquireMeasurements } from "./skill-acquire-bench.ts";
import type { SkillPromptFigures } from "./skill-prompt-bench.ts";
import { skillFigures, skillRows, type SkillFigures } from "./skill-report.ts";
import { roundMs, summarize } from "./statistics.ts";
import { SLACK_TARGETS, slackFigures, type SlackFigures, type SlackSamples } from "./slack-bench.ts";
import type { TurnMeasurements } from "./turn-bench.ts";

export interface Measurements {
  warmAcquireMs: number[];
  coldAcquireMs: number[];
  cellWarmMs: number[];
  cellDockerExecMs: number[];
  cellDockerRunMs: number[];
  turns: TurnMeasurements;
  /** A new conversation's first cell, acquire included, with a session slot free. */
  firstCellFreeSlotMs: number[];
  /** The same with every slot of `maxSessions` idle, so one is evicted first. */
  firstCellEvictingMs: number[];
  floodMemory: FloodMemory;
  forgedListingMemory: FloodMemory;
  snapshots: SnapshotFigures;
  discord: DiscordMeasurements;
  /** The Slack adapter's turns beside the same turns without it. */
  slack: SlackSamples;
  /** A warm acquire with the bench skills and with none, and the tokens they add to the instructions. */
  skills: { acquire: SkillAcquireMeasurements; prompt: SkillPromptFigures };
  /** A five-cell turn's model requests on each API: how much each repeats the one before. */
  prefix: PrefixMeasurements;
  /** Many questions at once through Slack against `threadbook start`, one run a model speed. */
  load: LoadRun[];
}

export interface Setup {
  image: string;
  poolSize: number;
  /** `maxSessions` of the sandbox the first-cell figures come from. */
  evictionSlots: number;
  limits: { memoryMb: number; cpus: number; pids: number };
  machine: MachineInfo;
  /** Other containers running, and the 1-minute load average: work competing for the same cores. */
  contention: Record<"atStart" | "atEnd", { otherRunningContainers: number; loadAverage: number }>;
  totalMs: number;
}

export const TARGETS = {
  /** `cellDockerExecMs / cellWarmMs` at least this. */
  dockerExecOverWarmCell: 50,
  /** `warmAcquireMs` under this. */
  warmAcquireMs: 50,
  /** `harnessOverheadPerCellMs` under this. */
  harnessOverheadPerCellMs: 100,
};

const figureNames = [
  "warmAcquireMs", "coldAcquireMs", "cellWarmMs", "cellDockerExecMs", "cellDockerRunMs",
  "turnOneCellMs", "turnFiveCellMs", "cellRunOneMs", "cellRunFiveMs", "overheadPerCellOneMs", "overheadPerCellFiveMs",
  "firstCellFreeSlotMs", "firstCellEvictingMs",
] as const;

type FigureName = (typeof figureNames)[number];
type Figures = Record<FigureName, number>;

export interface BenchResult extends Figures {
  /** The worse of the two per-cell overheads: the one to hold against the 100 ms target. */
  harnessOverheadPerCellMs: number;
  p90: Figures;
  samples: Figures;
  ratios: { dockerExecOverWarmCell: number; dockerRunOverWarmCell: number; coldOverWarmAcquire: number; evictingOverFreeSlot: number };
  /** This process's resident memory around a cell flooding every descriptor with 1 GB; ratios to the start. */
  floodMemory: FloodMemory & { peakOverBefore: number; afterOverBefore: number };
  /** The same around a cell forging a listing through symlinks to /usr, and its files read back. */
  forgedListingMemory: FloodMemory & { peakOverBefore: number; afterOverBefore: number };
  /** Saving a namespace (100,000-row DataFrame, fitted model, 10,000-item dict) and putting it back into a new session. */
  snapshots: SnapshotFigures;
  /** The Discord adapter: deferral, first progress, and its own overhead a turn beside the core alone. */
  discord: DiscordFigures;
  /** Medians and 95th percentiles: event sent → first sign of work, → first streamed chunk, → turn end; the core alone; the difference. */
  slack: SlackFigures & { targets: typeof SLACK_TARGETS };
  /** Approved skills: a warm acquire with twenty beside none, and the tokens they add to the model's instructions. */
  skills: SkillFigures;
  /** The share of each model request that repeats the previous one from its start, and the bytes each sends. */
  prefix: PrefixFigures;
  /** Questions at once beside a lone one's time to answer, and the bot's peak memory, one entry a model speed. */
  load: LoadFigures[];
  targets: typeof TARGETS;
  model: { api: string; stream: boolean; server: string };
  sandbox: Omit<Setup, "machine" | "contention" | "totalMs">;
  machine: MachineInfo;
  contention: Setup["contention"];
  totalMs: number;
}

export function benchResult(measured: Measurements, setup: Setup): BenchResult {
  const samples: Record<FigureName, number[]> = {
    warmAcquireMs: measured.warmAcquireMs,
    coldAcquireMs: measured.coldAcquireMs,
    cellWarmMs: measured.cellWarmMs,
    cellDockerExecMs: measured.cellDockerExecMs,
    cellDockerRunMs: measured.cellDockerRunMs,
    turnOneCellMs: measured.turns.oneCell.turnMs,
    turnFiveCellMs: measured.turns.fiveCell.turnMs,
    cellRunOneMs: measured.turns.oneCell.cellRunMs,
    cellRunFiveMs: measured.turns.fiveCell.cellRunMs,
    overheadPerCellOneMs: measured.turns.oneCell.overheadPerCellMs,
    overheadPerCellFiveMs: measured.turns.fiveCell.overheadPerCellMs,
    firstCellFreeSlotMs: measured.firstCellFreeSlotMs,
    firstCellEvictingMs: measured.firstCellEvictingMs,
  };
  const summaries = Object.fromEntries(figureNames.map((name) => [name, summarize(samples[name])])) as Record<FigureName, ReturnType<typeof summarize>>;
  const pick = (field: "median" | "p90" | "count") => Object.fromEntries(figureNames.map((name) => [name, field === "count" ? summaries[name].count : roundMs(summaries[name][field])])) as Figures;
  const medians = pick("median");
  const ratio = (numerator: number, denominator: number) => Math.round((numerator / denominator) * 10) / 10;
  const { machine, contention, totalMs, ...sandbox } = setup;
  return {
    ...medians,
    harnessOverheadPerCellMs: Math.max(medians.overheadPerCellOneMs, medians.overheadPerCellFiveMs),
    p90: pick("p90"),
    samples: pick("count"),
    ratios: {
      dockerExecOverWarmCell: ratio(medians.cellDockerExecMs, medians.cellWarmMs),
      dockerRunOverWarmCell: ratio(medians.cellDockerRunMs, medians.cellWarmMs),
      coldOverWarmAcquire: ratio(medians.coldAcquireMs, medians.warmAcquireMs),
      evictingOverFreeSlot: ratio(medians.firstCellEvictingMs, medians.firstCellFreeSlotMs),
    },
    floodMemory: floodFigures(measured.floodMemory),
    forgedListingMemory: floodFigures(measured.forgedListingMemory),
    snapshots: { ...measured.snapshots, saveMs: Math.round(measured.snapshots.saveMs), restoreMs: Math.round(measured.snapshots.restoreMs) },
    discord: discordFigures(measured.discord),
    slack: { ...slackFigures(measured.slack), targets: SLACK_TARGETS },
    skills: skillFigures(measured.skills.acquire, measured.skills.prompt),
    prefix: prefixFigures(measured.prefix),
    load: measured.load.map(loadFigures),
    targets: TARGETS,
    model: { api: measured.turns.modelApi, stream: measured.turns.modelStream, server: "loopback emulator, answers at once" },
    sandbox,
    machine,
    contention,
    totalMs: Math.round(totalMs),
  };
}

function floodFigures(flood: FloodMemory): BenchResult["floodMemory"] {
  const megabytes = (value: number) => Math.round(value * 10) / 10;
  const ratio = (value: number) => Math.round((value / flood.beforeMb) * 100) / 100;
  return {
    beforeMb: megabytes(flood.beforeMb),
    peakMb: megabytes(flood.peakMb),
    afterMb: megabytes(flood.afterMb),
    cellMs: Math.round(flood.cellMs),
    peakSource: flood.peakSource,
    peakOverBefore: ratio(flood.peakMb),
    afterOverBefore: ratio(flood.afterMb),
  };
}

function ms(value: number): string {
  if (value < 10) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value)} ms`;
}

function verdict(met: boolean): string {
  return met ? "met" : "NOT met";
}

export function renderTable(result: BenchResult): string {
  const { p90, samples, ratios, machine, contention, floodMemory: flood, forgedListingMemory: forged, slack } = result;
  const slackRow = (label: string, figure: SlackFigures[keyof SlackFigures], note = "") =>
    `  ${label.padEnd(34)}${ms(figure.median).padStart(11)}${ms(figure.p95).padStart(11)}${String(figure.samples).padStart(8)}   ${note}`.trimEnd();
  const row = (label: string, name: FigureName, note = "") =>
    `  ${label.padEnd(34)}${ms(result[name]).padStart(11)}${ms(p90[name]).padStart(11)}${String(samples[name]).padStart(8)}   ${note}`.trimEnd();
  const lines = [
    `threadbook benchmark: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, Docker ${machine.dockerServer} (${machine.dockerRuntime})`,
    `image ${result.sandbox.image}, pool ${result.sandbox.poolSize}, ${result.sandbox.limits.memoryMb} MB and ${result.sandbox.limits.cpus} CPU a session; model: ${result.model.api} API, ${result.model.server}`,
    "",
    `  ${"".padEnd(34)}${"median".padStart(11)}${"p90".padStart(11)}${"samples".padStart(8)}`,
    "Acquire a session for a new conversation",
    row("warm, from the pool", "warmAcquireMs", `target < ${TARGETS.warmAcquireMs} ms: ${verdict(result.warmAcquireMs < TARGETS.warmAcquireMs)}`),
    row("cold, pool size 0", "coldAcquireMs", `${ratios.coldOverWarmAcquire}x the warm acquire`),
    ...skillRows(result.skills, ms),
    "A trivial cell: `1 + 1` in the session, `python3 -c \"print(1 + 1)\"` the naive way",
    row("warm session, long-lived channel", "cellWarmMs"),
    row("docker exec per cell (naive)", "cellDockerExecMs", `${ratios.dockerExecOverWarmCell}x the warm cell; target >= ${TARGETS.dockerExecOverWarmCell}x: ${verdict(ratios.dockerExecOverWarmCell >= TARGETS.dockerExecOverWarmCell)}`),
    row("new container per cell (naive)", "cellDockerRunMs", `${ratios.dockerRunOverWarmCell}x the warm cell`),
    "One turn, question in to reply out, warm session",
    row("1-cell turn", "turnOneCellMs"),
    row("  of which the cell ran", "cellRunOneMs"),
    row("5-cell turn (one cell a step)", "turnFiveCellMs"),
    row("  of which the cells ran", "cellRunFiveMs"),
    row("harness overhead a cell, 1-cell", "overheadPerCellOneMs", `target < ${TARGETS.harnessOverheadPerCellMs} ms: ${verdict(result.overheadPerCellOneMs < TARGETS.harnessOverheadPerCellMs)}`),
    row("harness overhead a cell, 5-cell", "overheadPerCellFiveMs", `target < ${TARGETS.harnessOverheadPerCellMs} ms: ${verdict(result.overheadPerCellFiveMs < TARGETS.harnessOverheadPerCellMs)}`),
    ...prefixRows(result.prefix),
    `A new conversation's first cell, acquire and \`1 + 1\`, maxSessions ${result.sandbox.evictionSlots}`,
    row("a session slot free", "firstCellFreeSlotMs"),
    row("every slot idle, one evicted first", "firstCellEvictingMs", `${ratios.evictingOverFreeSlot}x the free slot`),
    ...discordRows(result.discord, ms),
    "Slack, one-cell follow-up in a thread, from the event sent (median, p95)",
    slackRow("first sign of work (status)", slack.firstSignMs, `target p95 < ${SLACK_TARGETS.firstSignP95Ms} ms: ${verdict(slack.firstSignMs.p95 < SLACK_TARGETS.firstSignP95Ms)}`),
    slackRow("first streamed chunk", slack.firstChunkMs),
    slackRow("whole turn, status taken back", slack.turnMs),
    slackRow("the same turn, core alone", slack.coreTurnMs),
    slackRow("adapter overhead a turn", slack.overheadMs, `target < ${SLACK_TARGETS.overheadMs} ms: ${verdict(slack.overheadMs.median < SLACK_TARGETS.overheadMs)}`),
    ...loadRows(result.load),
    "This process's resident memory around a cell writing 1 GB to every descriptor it can write",
    `  ${"before / peak / after".padEnd(34)}${`${flood.beforeMb} / ${flood.peakMb} / ${flood.afterMb} MB`.padStart(30)}   peak ${flood.peakOverBefore}x, after ${flood.afterOverBefore}x the start; the cell came back in ${(flood.cellMs / 1000).toFixed(1)} s`,
    "... and around a cell forging a listing through symlinks to /usr, its files then read back",
    `  ${"before / peak / after".padEnd(34)}${`${forged.beforeMb} / ${forged.peakMb} / ${forged.afterMb} MB`.padStart(30)}   peak ${forged.peakOverBefore}x (target < 1.2x: ${verdict(forged.peakOverBefore < 1.2)}), after ${forged.afterOverBefore}x the start`,
    "Variables kept: a 100,000-row DataFrame, a fitted model and a dict of 10,000 items (median)",
    `  ${"saved after the turn / put back".padEnd(34)}${`${ms(result.snapshots.saveMs)} / ${ms(result.snapshots.restoreMs)}`.padStart(30)}   ${(result.snapshots.bytes / 1024 / 1024).toFixed(1)} MB kept; the save runs after the answer is posted`,
    "",
    `Load average ${contention.atStart.loadAverage} at the start, ${contention.atEnd.loadAverage} at the end.`,
    ...(contention.atStart.otherRunningContainers + contention.atEnd.otherRunningContainers > 0
      ? [`Note: other containers were running (${contention.atStart.otherRunningContainers} at the start, ${contention.atEnd.otherRunningContainers} at the end) and shared the cores; figures may be slower than on a quiet machine.`]
      : []),
    `${(result.totalMs / 1000).toFixed(0)} s in all. 'npm run -s bench -- --json' prints these figures as one JSON object (-s keeps npm's banner off stdout).`,
  ];
  return `${lines.join("\n")}\n`;
}
