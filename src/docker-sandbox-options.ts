/**
 * The settings → DockerSandbox options, in one place, so the bot and the
 * benchmark harden and bound their containers alike, and the skill library's
 * compile check runs in a container hardened the same way.
 */
import { hostname } from "node:os";
import type { Config } from "./config.ts";
import type { ContainerLimits } from "./sandbox/docker/container-spec.ts";
import { connectDocker, type DockerSandboxOptions } from "./sandbox/docker/docker-sandbox.ts";
import { currentImageTag } from "./sandbox/docker/image.ts";
import { pythonCompileContainer } from "./sandbox/docker/python-compile-container.ts";
import type { PythonCompileCheck } from "./skills/python-compile-check.ts";

export function containerLimits(config: Config): ContainerLimits {
  const { memoryMb, cpus, pids, diskMb, fileMb, runtime } = config.sandbox;
  return { memoryMb, cpus, pids, diskMb, fileMb, runtime };
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
    dockerHost: config.sandbox.dockerHost,
    // Replicas sharing a database may share the engine from other machines.
    sharedEngine: config.databaseUrl !== undefined,
    ...overrides,
  };
}

/** Compiles a skill's Python in a short-lived container of the sandbox image, never running it. */
export function skillCompileCheck(config: Config): PythonCompileCheck {
  return pythonCompileContainer({
    docker: connectDocker(config.sandbox.dockerHost),
    image: config.sandbox.image ?? currentImageTag(),
    instance: config.sandbox.instance,
    owner: `${hostname()}:${process.pid}`,
    limits: containerLimits(config),
  });
}
