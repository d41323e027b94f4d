/**
 * What a crash leaves in the store: a process that starts turns (each at its
 * own time) and is killed with SIGKILL before it finishes any, so they stay
 * `running` until a bot opens the store again.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import type { UserRecord } from "../../src/store/store.ts";

const storeModuleUrl = new URL("../../src/store/sqlite-store.ts", import.meta.url).href;

export interface CrashedTurn {
  conversationKey: string;
  user: UserRecord;
  text: string;
  startedAt: number;
}

/** The turns' ids, in order. */
export function crashWhileRunning(dataDir: string, turns: CrashedTurn[]): string[] {
  const script = `
    const { writeSync } = await import("node:fs");
    const { openSqliteStore } = await import(${JSON.stringify(storeModuleUrl)});
    let now = Date.now();
    const store = openSqliteStore(${JSON.stringify(dataDir)}, { clock: () => now });
    const ids = [];
    for (const turn of ${JSON.stringify(turns)}) {
      now = turn.startedAt;
      ids.push(await store.startTurn({ conversationKey: turn.conversationKey, user: turn.user, text: turn.text }));
    }
    writeSync(1, JSON.stringify(ids));
    process.kill(process.pid, "SIGKILL");`;
  const child = spawnSync(process.execPath, ["--input-type=module", "--no-warnings", "-e", script], { encoding: "utf8" });
  assert.equal(child.signal, "SIGKILL", child.stderr);
  return JSON.parse(child.stdout) as string[];
}
