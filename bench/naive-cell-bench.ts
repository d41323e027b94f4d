/**
 * What a naive bot does for each cell, for comparison with the long-lived
 * channel: a new `docker exec` of a fresh Python in the running session
 * container, or a whole new container per cell. Same image and the same
 * hardened spec as a session, so only the way the cell gets in differs.
 */
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import type Docker from "dockerode";
import { containerSpec, SANDBOX_USER, WORKDIR, type ContainerLimits } from "../src/sandbox/docker/container-spec.ts";
import { progress } from "./progress.ts";
import { timed } from "./statistics.ts";

/** The trivial cell as a naive bot runs it: a new interpreter each time. */
export const NAIVE_COMMAND = ["python3", "-c", "print(1 + 1)"];
const EXPECTED_STDOUT = "2\n";
const UNMEASURED_WARM_UPS = 2;

interface Output {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/** Demultiplexes a non-TTY stream until its output ends. */
async function readOutput(stream: NodeJS.ReadableStream, modem: Docker["modem"]): Promise<Pick<Output, "stdout" | "stderr">> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  modem.demuxStream(stream, stdout, stderr);
  // The output's end only: the write side of a hijacked socket may stay open.
  await finished(stream, { writable: false });
  return { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

function check(output: Output, what: string): void {
  if (output.exitCode !== 0 || output.stdout !== EXPECTED_STDOUT) {
    throw new Error(`${what} printed ${JSON.stringify(output.stdout)} (stderr ${JSON.stringify(output.stderr.slice(0, 500))}) and exited ${output.exitCode}`);
  }
}

async function execCell(container: Docker.Container, modem: Docker["modem"]): Promise<Output> {
  const exec = await container.exec({ Cmd: NAIVE_COMMAND, User: SANDBOX_USER, WorkingDir: WORKDIR, AttachStdout: true, AttachStderr: true, Env: [] });
  const stream = await exec.start({ hijack: true, stdin: false });
  const output = await readOutput(stream, modem);
  const { ExitCode } = await exec.inspect();
  return { ...output, exitCode: ExitCode };
}

/** A `docker exec` per cell into `container`, a running session container. */
export async function measureDockerExec(docker: Docker, container: Docker.Container, samples: number, signal: AbortSignal): Promise<number[]> {
  for (let index = 0; index < UNMEASURED_WARM_UPS; index += 1) check(await execCell(container, docker.modem), "docker exec");
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    signal.throwIfAborted();
    const { value, ms } = await timed(() => execCell(container, docker.modem));
    check(value, "docker exec");
    times.push(ms);
  }
  progress(`docker exec per cell: ${samples} samples`);
  return times;
}

export interface RunTarget {
  docker: Docker;
  image: string;
  /** Instance label for these containers, so the benchmark's cleanup finds them. */
  instance: string;
  limits: ContainerLimits;
}

/** `docker run --rm`: create, attach, start, wait, read the output, remove. */
async function runCell(target: RunTarget): Promise<Output> {
  const spec = containerSpec({ image: target.image, name: `${target.instance}-${randomBytes(4).toString("hex")}`, instance: target.instance, limits: target.limits, owner: "bench" });
  const container = await target.docker.createContainer({ ...spec, Cmd: NAIVE_COMMAND, AttachStdin: false, OpenStdin: false, StdinOnce: false });
  try {
    // Attached before the start, as `docker run` does: the spec logs nothing, so output is read live or never.
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const reading = readOutput(stream, target.docker.modem);
    await container.start();
    const [{ StatusCode }, output] = await Promise.all([container.wait() as Promise<{ StatusCode: number }>, reading]);
    return { ...output, exitCode: StatusCode };
  } finally {
    await container.remove({ force: true });
  }
}

export async function measureDockerRun(target: RunTarget, samples: number, signal: AbortSignal): Promise<number[]> {
  check(await runCell(target), "docker run");
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    signal.throwIfAborted();
    const { value, ms } = await timed(() => runCell(target));
    check(value, "docker run");
    times.push(ms);
    progress(`docker run per cell ${index + 1}/${samples}: ${ms.toFixed(0)} ms`);
  }
  return times;
}
