/**
 * A new conversation's first cell (acquire, then `1 + 1`) when a session slot
 * is free, and when every slot of `maxSessions` holds an idle session, so the
 * least recently used one must be removed first. The warm pool is full
 * before each sample, so both take a warm container; the difference is the
 * eviction.
 */
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { progress } from "./progress.ts";
import { timed } from "./statistics.ts";

export interface EvictionMeasurements {
  freeSlotMs: number[];
  evictingMs: number[];
}

/** An idle session of a conversation that has run a cell, as a finished turn leaves it. */
async function idleSession(sandbox: DockerSandbox, key: string): Promise<void> {
  const session = await sandbox.acquire(key);
  await session.run("kept = 1");
  session.idle();
}

async function firstCell(sandbox: DockerSandbox, key: string): Promise<number> {
  const { ms } = await timed(async () => {
    const session = await sandbox.acquire(key);
    if (session.origin !== "new") throw new Error(`expected a new session for ${key}, got a ${session.origin} one`);
    const result = await session.run("1 + 1");
    if (result.value !== "2") throw new Error(`the first cell of ${key} answered ${result.value}`);
    session.idle();
  });
  return ms;
}

/** `sandbox` must have `maxSessions` set to `slots`. */
export async function measureEviction(sandbox: DockerSandbox, slots: number, samples: number, signal: AbortSignal): Promise<EvictionMeasurements> {
  const freeSlotMs: number[] = [];
  const evictingMs: number[] = [];
  let filler = 0;
  const fillTo = async (count: number) => {
    while (sandbox.stats().sessions < count) await idleSession(sandbox, `bench:filler:${(filler += 1)}`);
    await sandbox.warmUp();
  };
  for (let index = 0; index < samples; index += 1) {
    signal.throwIfAborted();
    // One slot free: every other slot idle, as in the evicting case.
    await fillTo(slots - 1);
    const free = `bench:free-slot:${index}`;
    freeSlotMs.push(await firstCell(sandbox, free));
    await sandbox.release(free);

    await fillTo(slots);
    if (sandbox.stats().sessions !== slots) throw new Error(`expected ${slots} sessions before evicting, found ${sandbox.stats().sessions}`);
    const evicting = `bench:evicting:${index}`;
    evictingMs.push(await firstCell(sandbox, evicting));
    if (sandbox.stats().sessions !== slots) throw new Error(`maxSessions ${slots} was not kept: ${sandbox.stats().sessions} sessions`);
    await sandbox.release(evicting);
    progress(`first cell ${index + 1}/${samples}: ${freeSlotMs.at(-1)?.toFixed(0)} ms with a free slot, ${evictingMs.at(-1)?.toFixed(0)} ms evicting an idle session`);
  }
  return { freeSlotMs, evictingMs };
}
