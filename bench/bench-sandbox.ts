/**
 * The benchmark's own sandboxes: hardened exactly as the bot's (the limits
 * come from the same Config), under a random instance name so nothing of a
 * running bot or a test is touched, and every container of it removed after.
 */
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import type { Config } from "../src/config.ts";
import { dockerSandboxOptions } from "../src/docker-sandbox-options.ts";
import { silentLogger } from "../src/log.ts";
import { LABEL_INSTANCE } from "../src/sandbox/docker/container-spec.ts";
import { DockerSandbox, type DockerSandboxOptions } from "../src/sandbox/docker/docker-sandbox.ts";

/** e.g. "tbbench-1a2b3c4d"; every instance the run uses starts with it. */
export function benchInstance(): string {
  return `tbbench-${randomBytes(4).toString("hex")}`;
}

/** `overrides` on top of the settings, e.g. a `maxSessions` for the eviction figures. */
export function startBenchSandbox(config: Config, instance: string, poolSize: number, overrides: Partial<DockerSandboxOptions> = {}): Promise<DockerSandbox> {
  return DockerSandbox.start(dockerSandboxOptions(config, { instance, poolSize, logger: silentLogger, ...overrides }));
}

/** Removes every container whose instance label is `prefix` or `prefix-…`, in any state; returns how many. */
export async function removeBenchContainers(docker: Docker, prefix: string): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [LABEL_INSTANCE] } });
  const ours = containers.filter((info) => {
    const instance = info.Labels[LABEL_INSTANCE] ?? "";
    return instance === prefix || instance.startsWith(`${prefix}-`);
  });
  await Promise.all(ours.map((info) => docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined)));
  return ours.length;
}
