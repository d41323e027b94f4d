/**
 * What a hostile cell costs the bot's memory: this process's resident set
 * before, at its peak during, and after a cell that writes 1 GB to every
 * descriptor it can write (the kernel's protocol and diagnostics descriptors
 * included), and one that forges a listing through symlinks to /usr and has
 * the bot read those paths back, as a turn reads its files. The bounds should
 * keep each peak a few tens of MB over the start, whatever the cell sends.
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
  /** How long the hostile cell (and, for the forged listing, reading its files back) took. */
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

/** A cell that links /usr into the working directory and forges a reply naming paths through the links. */
export const FORGED_LISTING = `
import sys, json, os
frame = sys._getframe()
while frame is not None and "request_id" not in frame.f_locals:
    frame = frame.f_back
os.symlink('/usr', 'lnk')
os.makedirs('d', exist_ok=True)
os.symlink('/usr/lib', 'd/inner')
forged = {"id": frame.f_locals["request_id"], "ok": True, "stdout": "", "stderr": "", "stdout_bytes": 0, "stderr_bytes": 0,
          "value": None, "error": None, "figures": [], "files": [{"name": "lnk/lib", "bytes": 1}, {"name": "d/inner", "bytes": 1}],
          "files_omitted": 0, "duration_ms": 1, "timed_out": False}
os.write(frame.f_locals["self"].proto_out.fileno(), (json.dumps(forged) + "\\n").encode())
`;

export async function measureFloodMemory(sandbox: DockerSandbox, signal: AbortSignal): Promise<FloodMemory> {
  return measureCellMemory(sandbox, signal, "flood", async (session) => {
    const result = await session.run(FLOOD_EVERY_DESCRIPTOR, { timeoutMs: 300_000 });
    if (!result.stateLost) throw new Error("the flooding cell came back without its kernel restarted; the flood did not reach the protocol");
  });
}

export async function measureForgedListingMemory(sandbox: DockerSandbox, signal: AbortSignal): Promise<FloodMemory> {
  return measureCellMemory(sandbox, signal, "forged listing", async (session) => {
    const result = await session.run(FORGED_LISTING, { timeoutMs: 60_000 });
    // Everything the cell listed, and the forged paths besides, read back as a turn would, 256 MB each at most.
    const names = [...result.files.map((file) => file.name), "lnk/lib", "lnk", "d/inner", "d/inner/python3"];
    const back = await session.getFiles(names, { maxBytes: 256 * megabyte, totalBytes: 20 * 256 * megabyte });
    if (back.length > 0) throw new Error(`files came back from outside the working directory: ${back.map((file) => file.name).join(", ")}`);
  });
}

async function measureCellMemory(sandbox: DockerSandbox, signal: AbortSignal, label: string, hostile: (session: Awaited<ReturnType<DockerSandbox["acquire"]>>) => Promise<void>): Promise<FloodMemory> {
  signal.throwIfAborted();
  const key = `bench:${label.replace(/ /g, "-")}`;
  const session = await sandbox.acquire(key);
  await session.run("x = 1");
  collectGarbage();
  const before = process.memoryUsage.rss();
  const exactPeak = resetPeak();
  let sampledPeak = before;
  const sampler = setInterval(() => { sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss()); }, 10);
  const started = performance.now();
  try {
    await hostile(session);
  } finally {
    clearInterval(sampler);
  }
  const cellMs = performance.now() - started;
  sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
  const kernelPeak = exactPeak ? kernelPeakBytes() : undefined;
  collectGarbage();
  const after = process.memoryUsage.rss();
  await sandbox.release(key);
  const peak = Math.max(sampledPeak, kernelPeak ?? 0);
  progress(`${label}: ${(before / megabyte).toFixed(0)} MB before, ${(peak / megabyte).toFixed(0)} MB at the peak, ${(after / megabyte).toFixed(0)} MB after, ${(cellMs / 1000).toFixed(1)} s`);
  return { beforeMb: before / megabyte, peakMb: peak / megabyte, afterMb: after / megabyte, cellMs, peakSource: kernelPeak === undefined ? "sampled" : "VmHWM" };
}
