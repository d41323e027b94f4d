/**
 * What a hostile cell costs the bot's memory: this process's resident set
 * before, at its peak during, and after a cell that writes 1 GB to every
 * descriptor it can write (the runner's protocol and diagnostics descriptors
 * included). The channel's bounds should keep the peak a few tens of MB over
 * the start, whatever the cell sends.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { FLOOD_EVERY_DESCRIPTOR } from "../test/support/flood-cell.ts";
import { progress } from "./progress.ts";

const megabyte = 1024 * 1024;

export interface FloodMemory {
  beforeMb: number;
  peakMb: number;
  afterMb: number;
  /** How long the flooding cell took to come back (its session restarted). */
  cellMs: number;
  /** Whether the peak is Linux's own high-water mark (exact) or sampled every 10 ms. */
  peakSource: "VmHWM" | "sampled";
}

/** A full collection, so "before" and "after" are not an accident of when the collector last ran. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/** Resets Linux's peak resident set of this process to the current one; false where that is not possible. */
function resetPeak(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

function kernelPeakBytes(): number | undefined {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : undefined;
}

export async function measureFloodMemory(sandbox: DockerSandbox, signal: AbortSignal): Promise<FloodMemory> {
  signal.throwIfAborted();
  const session = await sandbox.acquire("bench:flood");
  await session.run("x = 1");
  collectGarbage();
  const before = process.memoryUsage.rss();
  const exactPeak = resetPeak();
  let sampledPeak = before;
  const sampler = setInterval(() => { sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss()); }, 10);
  const started = performance.now();
  let result;
  try {
    result = await session.run(FLOOD_EVERY_DESCRIPTOR, { timeoutMs: 300_000 });
  } finally {
    clearInterval(sampler);
  }
  const cellMs = performance.now() - started;
  sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
  const kernelPeak = exactPeak ? kernelPeakBytes() : undefined;
  if (!result.stateLost) throw new Error("the flooding cell came back without its session restarted; the flood did not reach the protocol");
  collectGarbage();
  const after = process.memoryUsage.rss();
  await sandbox.release("bench:flood");
  const peak = Math.max(sampledPeak, kernelPeak ?? 0);
  progress(`flood: ${(before / megabyte).toFixed(0)} MB before, ${(peak / megabyte).toFixed(0)} MB at the peak, ${(after / megabyte).toFixed(0)} MB after, ${(cellMs / 1000).toFixed(1)} s`);
  return { beforeMb: before / megabyte, peakMb: peak / megabyte, afterMb: after / megabyte, cellMs, peakSource: kernelPeak === undefined ? "sampled" : "VmHWM" };
}
