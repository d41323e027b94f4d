/**
 * A command run in a session's container through `docker exec`, with a
 * deadline: its output streamed to a sink, its stderr kept for the log up to
 * a bound. Past the deadline, or when the caller aborts, its stream is cut
 * (a process writing to it then ends on SIGPIPE) and the caller is told; no
 * exec is waited on for ever.
 */
import { PassThrough, type Duplex } from "node:stream";
import { finished } from "node:stream/promises";
import type Docker from "dockerode";
import { SandboxError } from "../../errors.ts";
import { dockerCall, dockerFailure } from "./docker-failure.ts";

export interface ExecTarget {
  container: Docker.Container;
  modem: Docker["modem"];
}

export interface ExecOptions {
  user: string;
  workdir: string;
  /** Written to the command's stdin, then closed; no stdin when absent. */
  input?: Buffer;
  /** Where its stdout goes; dropped when absent. */
  stdout?: NodeJS.WritableStream;
  /** The whole exec, start to exit. */
  timeoutMs: number;
  /** Cuts the exec short; the exec then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** What it does, for messages: "Moving files in or out of the session". */
  doing: string;
}

export interface ExecOutcome {
  exitCode: number;
  /** Its stderr, up to 16 KB. */
  stderr: string;
}

const maxErrorBytes = 16 * 1024;

export async function execInContainer(target: ExecTarget, command: string[], options: ExecOptions): Promise<ExecOutcome> {
  const exec = await dockerCall(options.doing, target.container.exec({
    Cmd: command,
    User: options.user,
    WorkingDir: options.workdir,
    AttachStdin: options.input !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Env: [],
  }));
  const stream = (await dockerCall(options.doing, exec.start({ hijack: true, stdin: options.input !== undefined }))) as unknown as Duplex;
  const stderr = new PassThrough();
  const errorChunks: Buffer[] = [];
  let errorBytes = 0;
  stderr.on("data", (chunk: Buffer) => {
    if (errorBytes < maxErrorBytes) errorChunks.push(chunk.subarray(0, maxErrorBytes - errorBytes));
    errorBytes += chunk.length;
  });
  target.modem.demuxStream(stream, options.stdout ?? new PassThrough().resume(), stderr);
  if (options.input !== undefined) {
    stream.write(options.input);
    stream.end();
  }
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SandboxError("sandbox_failed", `${options.doing} took too long and was cut off. Try again.`, { retryable: true, details: { command: command[0], timeoutMs: options.timeoutMs } })), options.timeoutMs);
    onAbort = () => reject(options.signal?.reason instanceof Error ? options.signal.reason : new SandboxError("sandbox_failed", `${options.doing} was stopped.`, { retryable: true }));
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  cut.catch(() => undefined);
  try {
    // Wait for the output's end only: the socket's write side may stay open (gVisor keeps it so).
    const ended = finished(stream as NodeJS.ReadableStream, { writable: false }).catch(() => undefined);
    await Promise.race([ended, cut]);
    const { ExitCode } = await dockerCall(options.doing, exec.inspect());
    return { exitCode: ExitCode ?? -1, stderr: Buffer.concat(errorChunks).toString("utf8").trim() };
  } catch (error) {
    stream.destroy();
    throw error instanceof SandboxError ? error : dockerFailure(error, options.doing);
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
  }
}
