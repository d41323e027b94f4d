/**
 * A new conversation's warm acquire as the core makes it (src/core/turn-run.ts):
 * `visibleSkills` over the store, then `sandbox.acquire` with `sessionSkills`
 * as the skills' source. The acquire returns once the container is claimed;
 * the skills are written while the caller goes on (in a turn, the model's
 * first step), and the first cell waits for them. So two times are taken:
 * the acquire, and from its start to a trivial first cell's answer, which
 * holds the whole writing. With the twenty bench skills and with none,
 * alternating, each from a full warm pool. After each, outside the times, one
 * cell checks what the session holds: with skills, every SKILL.md is there
 * and every script imports with its function; with none, /skills is empty.
 */
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import type { Session } from "../src/sandbox/sandbox.ts";
import { sessionSkills, skillScope, visibleSkills } from "../src/skills/session-skills.ts";
import type { SkillStore } from "../src/store/skill-store.ts";
import { progress } from "./progress.ts";
import { BENCH_SKILLS } from "./skill-fixtures.ts";
import { timed } from "./statistics.ts";

export interface SkillAcquireMeasurements {
  withSkillsMs: number[];
  withoutSkillsMs: number[];
  /** From the acquire's start to a trivial first cell's answer: the skills are in place by then. */
  withSkillsFirstCellMs: number[];
  withoutSkillsFirstCellMs: number[];
  /** Of each acquire with skills, reading them from the store (`visibleSkills` and `sessionSkills`); the rest is the sandbox's. */
  withSkillsStoreMs: number[];
  skillCount: number;
  /** Files and bytes written into each session with skills. */
  fileCount: number;
  bytes: number;
  /** The sessions' Python, for the prompt figures. */
  pythonVersion: string;
}

/** A Slack workspace's turn: it sees global skills (where the bench imports them) and its own. */
const scope = skillScope({ platform: "slack", id: "UBENCH", workspace: "TBENCH" });

const scripts = BENCH_SKILLS.flatMap((skill) => skill.scripts);
const withSkillsCheck = `import importlib, os
_names = sorted(name for name in os.listdir("/skills") if not name.startswith("."))
_manifests = sum(os.path.isfile(f"/skills/{name}/SKILL.md") for name in _names)
_entries = ${JSON.stringify(scripts.map((script) => [script.stem, script.entry]))}
_imported = [stem for stem, entry in _entries if callable(getattr(importlib.import_module(f"skills.{stem}"), entry, None))]
(len(_names), _manifests, len(_imported))`;
const withSkillsExpected = `(${BENCH_SKILLS.length}, ${BENCH_SKILLS.length}, ${scripts.length})`;
const withoutSkillsCheck = `import os\nsorted(name for name in os.listdir("/skills") if not name.startswith("."))`;
const withoutSkillsExpected = "[]";

async function check(session: Session, code: string, expected: string, what: string): Promise<void> {
  const result = await session.run(code);
  if (result.error !== null || result.value !== expected) {
    throw new Error(`${what}: the session's check gave ${JSON.stringify(result.value)}, expected ${expected} (${result.error ? `${result.error.name}: ${result.error.message}` : "no error"})`);
  }
}

export async function measureSkillAcquire(sandbox: DockerSandbox, stores: { withSkills: SkillStore; withoutSkills: SkillStore }, samples: number, signal: AbortSignal): Promise<SkillAcquireMeasurements> {
  const variants = [
    { label: "with skills", store: stores.withSkills, times: [] as number[], firstCellTimes: [] as number[], storeTimes: [] as number[], code: withSkillsCheck, expected: withSkillsExpected },
    { label: "without skills", store: stores.withoutSkills, times: [] as number[], firstCellTimes: [] as number[], storeTimes: [] as number[], code: withoutSkillsCheck, expected: withoutSkillsExpected },
  ] as const;
  let pythonVersion = "";
  for (let index = 0; index < samples; index += 1) {
    // Alternating which goes first, so neither always follows the other's clean-up.
    const order = index % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      signal.throwIfAborted();
      await sandbox.warmUp();
      if (sandbox.stats().warm === 0) throw new Error("the warm pool did not fill; see that Docker can start the sandbox image");
      const key = `bench:skill-acquire:${variant.store === stores.withSkills ? "with" : "without"}:${index}`;
      let storeMs = 0;
      const started = performance.now();
      const { value: session, ms } = await timed(async () => {
        const visible = await timed(() => visibleSkills(variant.store, scope));
        storeMs += visible.ms;
        return sandbox.acquire(key, {
          skills: async () => {
            const files = await timed(() => sessionSkills(variant.store, visible.value));
            storeMs += files.ms;
            return files.value;
          },
        });
      });
      if (session.origin !== "new") throw new Error(`expected a new session for ${key}, got a ${session.origin} one`);
      const first = await session.run("None");
      const firstCellMs = performance.now() - started;
      if (first.error !== null) throw new Error(`${key}: the first cell failed: ${first.error.name}: ${first.error.message}`);
      variant.times.push(ms);
      variant.firstCellTimes.push(firstCellMs);
      variant.storeTimes.push(storeMs);
      await check(session, variant.code, variant.expected, `${key}`);
      pythonVersion = session.pythonVersion;
      progress(`warm acquire ${variant.label} ${index + 1}/${samples}: ${ms.toFixed(1)} ms, first cell answered at ${firstCellMs.toFixed(1)} ms, the store ${storeMs.toFixed(1)} ms`);
      await sandbox.release(key);
    }
  }
  await sandbox.warmUp();
  const files = (await sessionSkills(stores.withSkills, await visibleSkills(stores.withSkills, scope))).flatMap((skill) => skill.files);
  return {
    withSkillsMs: variants[0].times,
    withoutSkillsMs: variants[1].times,
    withSkillsFirstCellMs: variants[0].firstCellTimes,
    withoutSkillsFirstCellMs: variants[1].firstCellTimes,
    withSkillsStoreMs: variants[0].storeTimes,
    skillCount: BENCH_SKILLS.length,
    fileCount: files.length,
    bytes: files.reduce((total, file) => total + file.data.length, 0),
    pythonVersion,
  };
}
