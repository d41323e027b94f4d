/**
 * Files in and out of the working directory, through `docker exec` of the
 * image's transfer program (sandbox/runtime/transfer.py) as root in the
 * sandbox user's group: nothing a cell left running can signal it.
 *
 * What comes out is distrusted all the same. Only the files asked for are
 * kept, each a regular file within its bound; the stream is cut (and its
 * exec with it) once the total is reached; every exec has a deadline.
 */
import { Writable } from "node:stream";
import type Docker from "dockerode";
import * as tar from "tar-stream";
import { SandboxError } from "../../errors.ts";
import type { InputFile, OutputFile } from "../sandbox.ts";
import { SUPERVISOR_USER, WORKDIR } from "./container-spec.ts";
import { execInContainer } from "./container-exec.ts";
import { tarOf } from "./tar-transfer.ts";

export interface FileTransferTarget {
  container: Docker.Container;
  modem: Docker["modem"];
}

const TRANSFER = ["python3", "-E", "-s", "/opt/threadbook/transfer.py"];
const NO_SPACE_EXIT = 3;

export interface TransferLimits {
  /** Each file at most this many bytes; a larger one is left out. */
  maxBytes: number;
  /** All files together at most this many bytes; the stream is cut there. */
  totalBytes: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Writes plain-named files into the working directory, as the sandbox user's. */
export async function putWorkdirFiles(target: FileTransferTarget, files: InputFile[], limits: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  const outcome = await execInContainer(target, [...TRANSFER, "put"], { user: SUPERVISOR_USER, workdir: WORKDIR, input: await tarOf(files), timeoutMs: limits.timeoutMs, signal: limits.signal, doing: "Putting files into the session" });
  if (outcome.exitCode === NO_SPACE_EXIT) {
    throw new SandboxError("file_rejected", "The files do not fit in the session's working directory (THREADBOOK_SANDBOX_DISK_MB).", { details: { stderr: outcome.stderr.slice(0, 2000) } });
  }
  if (outcome.exitCode !== 0) {
    throw new SandboxError("sandbox_failed", "Putting files into the session failed.", { retryable: true, details: { exitCode: outcome.exitCode, stderr: outcome.stderr.slice(0, 2000) } });
  }
}

/** Reads the named files out of the working directory; those missing, not regular, behind a symlink or over a bound are left out. */
export async function getWorkdirFiles(target: FileTransferTarget, names: string[], limits: TransferLimits): Promise<OutputFile[]> {
  if (names.length === 0) return [];
  const wanted = new Set(names);
  const files: OutputFile[] = [];
  let total = 0;
  const cut = new AbortController();
  const signal = limits.signal ? AbortSignal.any([limits.signal, cut.signal]) : cut.signal;
  const extract = tar.extract();
  const collecting = (async () => {
    for await (const entry of extract) {
      const name = entry.header.name;
      const take = entry.header.type === "file" && wanted.has(name) && (entry.header.size ?? 0) <= limits.maxBytes;
      wanted.delete(name);
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of entry) {
        size += (chunk as Buffer).length;
        if (!take || size > limits.maxBytes) continue;
        total += (chunk as Buffer).length;
        if (total > limits.totalBytes) {
          cut.abort();
          return;
        }
        chunks.push(chunk as Buffer);
      }
      if (take && size <= limits.maxBytes) files.push({ name, bytes: size, data: Buffer.concat(chunks) });
    }
  })();
  collecting.catch(() => undefined);
  const sink = extract as unknown as Writable;
  const request = Buffer.from(JSON.stringify({ names: [...wanted], max_bytes: limits.maxBytes, total_bytes: limits.totalBytes }));
  try {
    const outcome = await execInContainer(target, [...TRANSFER, "get"], { user: SUPERVISOR_USER, workdir: WORKDIR, input: request, stdout: sink, timeoutMs: limits.timeoutMs, signal, doing: "Reading files out of the session" });
    if (outcome.exitCode !== 0) {
      throw new SandboxError("sandbox_failed", "Reading files out of the session failed.", { retryable: true, details: { exitCode: outcome.exitCode, stderr: outcome.stderr.slice(0, 2000) } });
    }
    sink.end();
    await collecting;
  } catch (error) {
    if (!cut.signal.aborted || limits.signal?.aborted) throw error;
  } finally {
    extract.destroy();
  }
  return files;
}

const SNAPSHOT_MISSING_EXIT = 4;

/** The kernel's saved namespace, at most `maxBytes`, taken out of the session (the file goes with it); null when there is none. */
export async function getSnapshot(target: FileTransferTarget, limits: { maxBytes: number; timeoutMs: number }): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  const cut = new AbortController();
  const sink = new Writable({
    write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
      size += chunk.length;
      if (size > limits.maxBytes) cut.abort();
      else chunks.push(chunk);
      callback(null);
    },
  });
  const outcome = await execInContainer(target, [...TRANSFER, "snapshot-get"], { user: SUPERVISOR_USER, workdir: WORKDIR, input: Buffer.from(String(limits.maxBytes)), stdout: sink, timeoutMs: limits.timeoutMs, signal: cut.signal, doing: "Saving the session's variables" });
  if (outcome.exitCode === SNAPSHOT_MISSING_EXIT) return null;
  if (outcome.exitCode !== 0) {
    throw new SandboxError("sandbox_failed", "The session's variables could not be read out.", { retryable: true, details: { exitCode: outcome.exitCode, stderr: outcome.stderr.slice(0, 2000) } });
  }
  return Buffer.concat(chunks);
}

/** Puts a saved namespace into the session, for its kernel to restore. */
export async function putSnapshot(target: FileTransferTarget, data: Buffer, limits: { timeoutMs: number }): Promise<void> {
  const outcome = await execInContainer(target, [...TRANSFER, "snapshot-put"], { user: SUPERVISOR_USER, workdir: WORKDIR, input: data, timeoutMs: limits.timeoutMs, doing: "Putting the conversation's variables back" });
  if (outcome.exitCode === NO_SPACE_EXIT) {
    throw new SandboxError("file_rejected", "The saved variables do not fit in the session (THREADBOOK_SNAPSHOT_MB).", { details: { stderr: outcome.stderr.slice(0, 2000) } });
  }
  if (outcome.exitCode !== 0) {
    throw new SandboxError("sandbox_failed", "The conversation's variables could not be put back.", { retryable: true, details: { exitCode: outcome.exitCode, stderr: outcome.stderr.slice(0, 2000) } });
  }
}
