/**
 * Acquiring a session for a new conversation: from a full warm pool (a
 * rename of a started container whose runner is ready), and cold (create,
 * start, and wait for the runner to answer).
 */
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { progress } from "./progress.ts";
import { timed } from "./statistics.ts";

/** Each sample waits for a full pool first, so every one is a true warm acquire. */
export async function measureWarmAcquire(sandbox: DockerSandbox, samples: number, signal: AbortSignal): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    signal.throwIfAborted();
    await sandbox.warmUp();
    if (sandbox.stats().warm === 0) throw new Error("the warm pool did not fill; see that Docker can start the sandbox image");
    const key = `bench:warm-acquire:${index}`;
    const { value: session, ms } = await timed(() => sandbox.acquire(key));
    if (session.origin !== "new") throw new Error(`expected a new session for ${key}, got a ${session.origin} one`);
    times.push(ms);
    progress(`warm acquire ${index + 1}/${samples}: ${ms.toFixed(1)} ms`);
    await sandbox.release(key);
  }
  await sandbox.warmUp();
  return times;
}

/** `sandbox` must have a pool size of 0, so every acquire starts a container. */
export async function measureColdAcquire(sandbox: DockerSandbox, samples: number, signal: AbortSignal): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    signal.throwIfAborted();
    if (sandbox.stats().warm !== 0) throw new Error("the cold-acquire sandbox has warm containers; its pool size must be 0");
    const key = `bench:cold-acquire:${index}`;
    const { ms } = await timed(() => sandbox.acquire(key));
    times.push(ms);
    progress(`cold acquire ${index + 1}/${samples}: ${ms.toFixed(0)} ms`);
    await sandbox.release(key);
  }
  return times;
}
