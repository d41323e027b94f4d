/** A trivial cell in a warm session: one JSON line out to the runner and one back, over the attached channel. */
import type { Session } from "../src/sandbox/sandbox.ts";
import { progress } from "./progress.ts";
import { timed } from "./statistics.ts";

export const TRIVIAL_CELL = "1 + 1";
const UNMEASURED_WARM_UPS = 20;

export async function measureWarmCells(session: Session, samples: number, signal: AbortSignal): Promise<number[]> {
  const runOnce = async () => {
    const result = await session.run(TRIVIAL_CELL);
    if (result.value !== "2" || result.error !== null) throw new Error(`the cell ${TRIVIAL_CELL} gave ${JSON.stringify(result.value)} (${result.error?.message ?? "no error"})`);
  };
  for (let index = 0; index < UNMEASURED_WARM_UPS; index += 1) await runOnce();
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    signal.throwIfAborted();
    times.push((await timed(runOnce)).ms);
  }
  progress(`warm cells: ${samples} samples`);
  return times;
}
