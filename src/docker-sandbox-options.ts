/**
 * The settings → DockerSandbox options, in one place, so the bot and the
 * benchmark harden and bound their containers alike, and the skill library's
 * compile check runs in a container hardened the same way.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import type { Config } from "./config.ts";
import { EgressDoors } from "./egress/egress-doors.ts";
import { PackageCache } from "./egress/package-cache.ts";
import type { Logger } from "./log.ts";
import type { ContainerLimits } from "./sandbox/docker/container-spec.ts";
import { connectDocker, type DockerSandboxOptions } from "./sandbox/docker/docker-sandbox.ts";
import { currentImageTag } from "./sandbox/docker/image.ts";
import { pythonCompileContainer } from "./sandbox/docker/python-compile-container.ts";
import type { PythonCompileCheck } from "./skills/python-compile-check.ts";

export function containerLimits(config: Config): ContainerLimits {
  const { memoryMb, cpus, pids, diskMb, fileMb, runtime, snapshotMb } = config.sandbox;
  return { memoryMb, cpus, pids, diskMb, fileMb, runtime, snapshotMb };
}

/** The engines sessions run on: THREADBOOK_DOCKER_HOSTS, else the one of DOCKER_HOST (undefined: Docker's default socket). */
export function sandboxEngines(config: Config): (string | undefined)[] {
  return config.sandbox.dockerHosts.length > 0 ? config.sandbox.dockerHosts : [config.sandbox.dockerHost];
}

/** What the settings say, with `overrides` (a logger at least) on top, e.g. a pool size for a one-shot command. */
export function dockerSandboxOptions(config: Config, overrides: Partial<DockerSandboxOptions> & Pick<DockerSandboxOptions, "logger">): DockerSandboxOptions {
  return {
    instance: config.sandbox.instance,
    image: config.sandbox.image,
    limits: containerLimits(config),
    poolSize: config.sandbox.poolSize,
    maxSessions: config.capacity.maxSessions,
    idleTtlMs: config.sandbox.idleTtlMs,
    cellTimeoutMs: config.sandbox.cellTimeoutMs,
    outputBytes: config.sandbox.outputBytes,
    dockerHost: sandboxEngines(config)[0],
    // A door for every container where any allow-list is set: a warm container does not know its workspace yet.
    ...(config.egress.enabled ? { egress: egressOptions(config, overrides.logger) } : {}),
    // Replicas sharing a database may share the engine from other machines.
    sharedEngine: config.databaseUrl !== undefined,
    ...overrides,
  };
}

/** Doors for the sessions, with pip's index behind the bot's cache (one per index, under the data directory) where one is set. */
function egressOptions(config: Config, logger: Logger): NonNullable<DockerSandboxOptions["egress"]> {
  const { pipIndexUrl, packagesMb } = config.egress;
  const cache = pipIndexUrl === undefined ? undefined : new PackageCache(pipIndexUrl, join(config.dataDir, "pip-cache"));
  const doors = new EgressDoors(join(config.dataDir, "egress"), logger, cache);
  return { doors, packagesMb, pipIndexUrl: doors.pipIndexUrl };
}

/** Compiles a skill's Python in a short-lived container of the sandbox image, never running it; on the first engine, where there are several. */
export function skillCompileCheck(config: Config): PythonCompileCheck {
  return pythonCompileContainer({
    docker: connectDocker(sandboxEngines(config)[0]),
    image: config.sandbox.image ?? currentImageTag(),
    instance: config.sandbox.instance,
    owner: `${hostname()}:${process.pid}`,
    limits: containerLimits(config),
  });
}
