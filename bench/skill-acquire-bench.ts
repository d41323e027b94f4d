/**
 * A new conversation's warm acquire as the core makes it (src/core/turn-run.ts):
 * `visibleSkills` over the store, then `sandbox.acquire` with `sessionSkills`
 * as the skills' source, so the time holds the store's reads and writing the
 * files into the container (the store's part is timed apart too). With the twenty bench skills and with none,
 * alternating, each from a full warm pool. After each timed acquire, and
 * outside the time, one cell checks what the session holds: with skills,
 * every SKILL.md is there and every script imports with its function; with
 * none, /skills is empty.
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
const scope = skillScope({ platform: "slack", workspace: "TBENCH" });

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
    { label: "with skills", store: stores.withSkills, times: [] as number[], storeTimes: [] as number[], code: withSkillsCheck, expected: withSkillsExpected },
    { label: "without skills", store: stores.withoutSkills, times: [] as number[], storeTimes: [] as number[], code: withoutSkillsCheck, expected: withoutSkillsExpected },
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
      variant.times.push(ms);
      variant.storeTimes.push(storeMs);
      await check(session, variant.code, variant.expected, `${key}`);
      pythonVersion = session.pythonVersion;
      progress(`warm acquire ${variant.label} ${index + 1}/${samples}: ${ms.toFixed(1)} ms, of which the store ${storeMs.toFixed(1)} ms`);
      await sandbox.release(key);
    }
  }
  await sandbox.warmUp();
  const files = (await sessionSkills(stores.withSkills, await visibleSkills(stores.withSkills, scope))).flatMap((skill) => skill.files);
  return {
    withSkillsMs: variants[0].times,
    withoutSkillsMs: variants[1].times,
    withSkillsStoreMs: variants[0].storeTimes,
    skillCount: BENCH_SKILLS.length,
    fileCount: files.length,
    bytes: files.reduce((total, file) => total + file.data.length, 0),
    pythonVersion,
  };
}
