/**
 * What keeping a conversation's variables costs: saving the namespace after
 * a turn (inside the sandbox, then read out) and putting it back into a new
 * session, for a namespace holding a 100,000-row DataFrame, a fitted
 * scikit-learn model and a dict of 10,000 items. The save runs after the
 * answer is posted, so it adds nothing to the time to answer.
 */
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { progress } from "./progress.ts";
import { summarize } from "./statistics.ts";

export interface SnapshotFigures {
  bytes: number;
  saveMs: number;
  restoreMs: number;
  samples: number;
}

const NAMESPACE = `import pandas as pd, numpy as np
from sklearn.linear_model import LinearRegression
df = pd.DataFrame({"x": np.arange(100_000), "y": np.arange(100_000) * 2.0, "label": ["row %d" % i for i in range(100_000)]})
model = LinearRegression().fit(df[["x"]], df["y"])
lookup = {i: str(i) for i in range(10_000)}`;

export async function measureSnapshots(sandbox: DockerSandbox, samples: number, signal: AbortSignal): Promise<SnapshotFigures> {
  const save: number[] = [];
  const restore: number[] = [];
  let bytes = 0;
  for (let sample = 0; sample < samples; sample += 1) {
    signal.throwIfAborted();
    const session = await sandbox.acquire("bench:snapshot");
    const set = await session.run(NAMESPACE, { timeoutMs: 120_000 });
    if (set.error !== null) throw new Error(`the namespace could not be made: ${set.error.message}`);
    let started = performance.now();
    const saved = await session.snapshot(256 * 1024 * 1024);
    save.push(performance.now() - started);
    if (saved.data === null) throw new Error("nothing was saved");
    bytes = saved.data.length;
    await sandbox.release("bench:snapshot");
    const fresh = await sandbox.acquire("bench:snapshot");
    started = performance.now();
    const back = await fresh.restore(saved.data);
    restore.push(performance.now() - started);
    if (back.failed.length > 0 || !back.restored.includes("df")) throw new Error(`not everything came back: ${JSON.stringify(back.failed)}`);
    await sandbox.release("bench:snapshot");
  }
  const figures = { bytes, saveMs: summarize(save).median, restoreMs: summarize(restore).median, samples };
  progress(`snapshot: ${(bytes / 1024 / 1024).toFixed(1)} MB, saved in ${figures.saveMs.toFixed(0)} ms, put back in ${figures.restoreMs.toFixed(0)} ms`);
  return figures;
}
