/**
 * The skill figures in one step: the bench skills imported through the real
 * skill library (their Python compiled in a short-lived container of the
 * sandbox image, as `threadbook skills import` does), then warm acquires with
 * them and with none, then the tokens they add to the model's instructions.
 */
import { hostname } from "node:os";
import type Docker from "dockerode";
import type { Config } from "../src/config.ts";
import { containerLimits } from "../src/docker-sandbox-options.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { pythonCompileContainer } from "../src/sandbox/docker/python-compile-container.ts";
import { progress } from "./progress.ts";
import { measureSkillAcquire, type SkillAcquireMeasurements } from "./skill-acquire-bench.ts";
import { BENCH_SKILLS } from "./skill-fixtures.ts";
import { openBenchSkillStores } from "./skill-library-setup.ts";
import { measureSkillPrompt, type SkillPromptFigures } from "./skill-prompt-bench.ts";

/** `instance`: the label of the compile containers, so the bench's clean-up removes a leftover. */
export async function measureSkills(
  setup: { docker: Docker; sandbox: DockerSandbox; config: Config; instance: string },
  samples: number,
  signal: AbortSignal,
): Promise<{ acquire: SkillAcquireMeasurements; prompt: SkillPromptFigures }> {
  const { docker, sandbox, config, instance } = setup;
  progress(`importing ${BENCH_SKILLS.length} skills through the skill library, their Python compiled in the sandbox image`);
  const compileCheck = pythonCompileContainer({ docker, image: sandbox.image, instance, owner: `${hostname()}:${process.pid}`, limits: containerLimits(config) });
  const stores = await openBenchSkillStores(compileCheck);
  try {
    await sandbox.warmUp();
    const acquire = await measureSkillAcquire(sandbox, { withSkills: stores.withSkills.skills, withoutSkills: stores.withoutSkills.skills }, samples, signal);
    const prompt = await measureSkillPrompt(stores.withSkills.skills, { pythonVersion: acquire.pythonVersion, cellTimeoutMs: config.sandbox.cellTimeoutMs });
    progress(`skills in the instructions: ${prompt.tokensWithout} tokens without, ${prompt.tokensWith} with ${prompt.skillCount}`);
    return { acquire, prompt };
  } finally {
    await stores.close();
  }
}
