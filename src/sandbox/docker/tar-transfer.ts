/**
 * Files in and out of a running container by streaming tar through exec.
 * Docker's archive API cannot write into a tmpfs mount, and the working
 * directory is one.
 */
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import type Docker from "dockerode";
import * as tar from "tar-stream";
import { SandboxError } from "../../errors.ts";
import { dockerFailure } from "./docker-failure.ts";
import type { InputFile, OutputFile } from "../sandbox.ts";

export interface TransferTarget {
  container: Docker.Container;
  modem: Docker["modem"];
  user: string;
  workdir: string;
}

const maxErrorBytes = 16 * 1024;

async function execTar(target: TransferTarget, command: string[], input: Buffer | undefined, stdoutSink: NodeJS.WritableStream): Promise<string> {
  try {
    return await execTarUnchecked(target, command, input, stdoutSink);
  } catch (error) {
    throw dockerFailure(error, "Moving files in or out of the session");
  }
}

async function execTarUnchecked(target: TransferTarget, command: string[], input: Buffer | undefined, stdoutSink: NodeJS.WritableStream): Promise<string> {
  const exec = await target.container.exec({
    Cmd: command,
    User: target.user,
    WorkingDir: target.workdir,
    AttachStdin: input !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Env: [],
  });
  const stream = await exec.start({ hijack: true, stdin: input !== undefined });
  const stderr = new PassThrough();
  // tar's own complaints, kept for the log up to a bound.
  const errorChunks: Buffer[] = [];
  let errorBytes = 0;
  stderr.on("data", (chunk: Buffer) => {
    if (errorBytes < maxErrorBytes) errorChunks.push(chunk.subarray(0, maxErrorBytes - errorBytes));
    errorBytes += chunk.length;
  });
  target.modem.demuxStream(stream, stdoutSink, stderr);
  if (input !== undefined) {
    stream.write(input);
    stream.end();
  }
  // Wait for the output's end only: the socket's write side may stay open (gVisor keeps it so).
  await finished(stream as NodeJS.ReadableStream, { writable: false }).catch(() => undefined);
  const { ExitCode } = await exec.inspect();
  const message = Buffer.concat(errorChunks).toString("utf8").trim();
  if (ExitCode !== 0) {
    throw new SandboxError("sandbox_failed", "Moving files in or out of the session failed.", { details: { command: command[0], exitCode: ExitCode, stderr: message.slice(0, 2000) } });
  }
  return message;
}

/** Runs a command in the target's working directory as its user; throws with its stderr when it exits non-zero. */
export async function runInTarget(target: TransferTarget, command: string[]): Promise<void> {
  await execTar(target, command, undefined, new PassThrough().resume());
}

/** Writes plain-named files into the working directory. */
export async function putFilesByTar(target: TransferTarget, files: InputFile[]): Promise<void> {
  const pack = tar.pack();
  const now = new Date();
  for (const file of files) pack.entry({ name: file.name, size: file.data.length, mode: 0o644, mtime: now }, file.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  await execTar(target, ["tar", "-x", "-f", "-", "-C", target.workdir, "--no-same-owner", "--no-same-permissions"], Buffer.concat(chunks), new PassThrough().resume());
}

/** Reads files (already checked to be regular and inside) out of the working directory. */
export async function getFilesByTar(target: TransferTarget, names: string[], maxBytes: number): Promise<OutputFile[]> {
  if (names.length === 0) return [];
  const extract = tar.extract();
  const files: OutputFile[] = [];
  const collecting = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of entry) {
        size += (chunk as Buffer).length;
        if (size <= maxBytes) chunks.push(chunk as Buffer);
      }
      // Only regular files come out; a symlink or device is never followed.
      if (entry.header.type === "file" && size <= maxBytes) files.push({ name: entry.header.name, bytes: size, data: Buffer.concat(chunks) });
    }
  })();
  await execTar(target, ["tar", "-c", "-f", "-", "-C", target.workdir, "--", ...names], undefined, extract);
  extract.end(() => undefined);
  await collecting.catch((error: unknown) => { throw dockerFailure(error, "Reading files out of the session"); });
  return files;
}
