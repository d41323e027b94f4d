/** A real Docker sandbox for tests: its own instance name, removed whole afterwards. */
import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { silentLogger } from "../../src/log.ts";
import { LABEL_INSTANCE } from "../../src/sandbox/docker/container-spec.ts";
import { DockerSandbox, type DockerSandboxOptions } from "../../src/sandbox/docker/docker-sandbox.ts";

export function testInstance(): string {
  return `tbtest-${randomBytes(4).toString("hex")}`;
}

export function testSandboxOptions(overrides: Partial<DockerSandboxOptions> = {}): DockerSandboxOptions {
  return {
    instance: overrides.instance ?? testInstance(),
    limits: { memoryMb: 384, cpus: 1, pids: 64, diskMb: 64, fileMb: 16, runtime: undefined, ...overrides.limits },
    poolSize: 1,
    idleTtlMs: 10 * 60_000,
    cellTimeoutMs: 10_000,
    outputBytes: 8192,
    logger: silentLogger,
    ...overrides,
  };
}

export function startTestSandbox(overrides: Partial<DockerSandboxOptions> = {}): Promise<DockerSandbox> {
  return DockerSandbox.start(testSandboxOptions(overrides));
}

/** Every container of the instance, in any state. */
export async function instanceContainers(instance: string): Promise<Docker.ContainerInfo[]> {
  return new Docker().listContainers({ all: true, filters: { label: [`${LABEL_INSTANCE}=${instance}`] } });
}

/** Removes every container of the instance. */
export async function removeInstance(instance: string): Promise<void> {
  const docker = new Docker();
  for (const info of await instanceContainers(instance)) await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
}

/** Whether the instance's container `name` is gone within `withinMs`, checking every 250 ms. */
export async function containerGone(instance: string, name: string, withinMs: number): Promise<boolean> {
  const present = async () => (await instanceContainers(instance)).some((info) => info.Names[0] === `/${name}`);
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline && (await present())) await new Promise((resolve) => setTimeout(resolve, 250));
  return !(await present());
}
