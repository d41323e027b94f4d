/**
 * One conversation's session: a container running the runner, reached over
 * its attached channel. A cell that will not stop is interrupted, and if that
 * fails the container is replaced and the caller told that state was lost.
 */
import type Docker from "dockerode";
import { timedOut as noReplyYet, within } from "../../deadline.ts";
import { SandboxError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { assertInsideWorkdir, assertPlainFileName } from "../file-names.ts";
import type { CellLimits, CellResult, FilePreview, InputFile, OutputFile, SandboxFileInfo, Session, SessionOrigin } from "../sandbox.ts";
import { SANDBOX_USER, WORKDIR } from "./container-spec.ts";
import { ChannelClosedError, ChannelTimeoutError, type RunnerChannel, type RunnerReply } from "./runner-channel.ts";
import { getFilesByTar, putFilesByTar } from "./tar-transfer.ts";

/** A started container with the runner answering on its channel. */
export interface LiveContainer {
  container: Docker.Container;
  channel: RunnerChannel;
  id: string;
  pythonVersion: string;
}

export interface SessionHost {
  /** Removes the session's container and puts a fresh one in its place, under the same name. */
  replace(session: DockerSession): Promise<LiveContainer>;
  readonly modem: Docker["modem"];
  readonly logger: Logger;
  readonly cellTimeoutMs: number;
  readonly outputBytes: number;
  readonly fileBytes: number;
}

/** How long past its own limit a cell may take to stop itself before it is interrupted. */
const SELF_STOP_GRACE_MS = 2_000;
/** How long an interrupted cell may take to stop before its container is replaced. */
const INTERRUPT_GRACE_MS = 3_000;
const CONTROL_TIMEOUT_MS = 30_000;

export class DockerSession implements Session {
  readonly conversationKey: string;
  readonly name: string;
  origin: SessionOrigin;
  lastUsed = Date.now();
  /** Requests in flight; a busy session is never reaped. */
  private inFlight = 0;
  /** Set when the sandbox ended this session (release, reaping, shutdown). */
  private released = false;
  private live: LiveContainer;
  private readonly host: SessionHost;

  constructor(options: { conversationKey: string; name: string; origin: SessionOrigin; live: LiveContainer; host: SessionHost }) {
    this.conversationKey = options.conversationKey;
    this.name = options.name;
    this.origin = options.origin;
    this.live = options.live;
    this.host = options.host;
  }

  get id(): string {
    return this.live.id;
  }

  get pythonVersion(): string {
    return this.live.pythonVersion;
  }

  get container(): Docker.Container {
    return this.live.container;
  }

  get closed(): boolean {
    return this.released || this.live.channel.closed;
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** Lets go of the container; a cell still running ends with `sandbox_lost`, nothing is restarted. */
  detach(): void {
    this.released = true;
    this.live.channel.close();
  }

  async run(code: string, limits: Partial<CellLimits> = {}): Promise<CellResult> {
    this.assertUsable();
    const timeoutMs = limits.timeoutMs ?? this.host.cellTimeoutMs;
    this.lastUsed = Date.now();
    this.inFlight += 1;
    const started = performance.now();
    const pending = this.live.channel.request({ op: "run", code, timeout: timeoutMs / 1000, output_bytes: this.host.outputBytes });
    pending.catch(() => undefined);
    try {
      let reply = await within(pending, timeoutMs + SELF_STOP_GRACE_MS);
      if (reply === noReplyYet) {
        // Stuck where Python cannot see its own alarm (inside C code): interrupt it.
        this.host.logger.warn({ session: this.name }, "cell did not stop at its limit; interrupting");
        await this.live.container.kill({ signal: "SIGINT" }).catch(() => undefined);
        reply = await within(pending, INTERRUPT_GRACE_MS);
      }
      if (reply === noReplyYet) {
        this.host.logger.warn({ session: this.name }, "cell ignored the interrupt; replacing the session's container");
        await this.restart();
        return lostResult(performance.now() - started, true, `The cell ran past its ${timeoutMs / 1000} s limit and did not stop, so the session was restarted: variables are gone, and so are the files in the working directory.`);
      }
      return this.toCellResult(reply, timeoutMs);
    } catch (error) {
      if (!(error instanceof ChannelClosedError)) throw error;
      this.assertUsable();
      const why = await this.deathCause();
      this.host.logger.warn({ session: this.name, why }, "session died during a cell; replacing it");
      await this.restart();
      return lostResult(performance.now() - started, false, `The Python session died (${why}), so it was restarted: variables are gone, and so are the files in the working directory.`);
    } finally {
      this.inFlight -= 1;
      this.lastUsed = Date.now();
    }
  }

  async putFiles(files: InputFile[]): Promise<SandboxFileInfo[]> {
    for (const file of files) {
      assertPlainFileName(file.name);
      if (file.data.length > this.host.fileBytes) {
        throw new SandboxError("file_rejected", `The file ${file.name} is ${megabytes(file.data.length)}; a session takes files up to ${megabytes(this.host.fileBytes)} (THREADBOOK_SANDBOX_FILE_MB).`);
      }
    }
    if (files.length === 0) return [];
    this.lastUsed = Date.now();
    try {
      await putFilesByTar(this.transferTarget(), files);
    } catch (error) {
      const space = (error as SandboxError).details?.stderr;
      if (typeof space === "string" && /No space|Cannot write|too large/i.test(space)) {
        throw new SandboxError("file_rejected", "The files do not fit in the session's working directory (THREADBOOK_SANDBOX_DISK_MB).", { cause: error });
      }
      throw error;
    }
    // Tell the runner the new files are the baseline, so they are not reported as made by a cell.
    await this.control({ op: "baseline" });
    return files.map((file) => ({ name: file.name, bytes: file.data.length }));
  }

  async getFiles(names: string[], options: { maxBytes?: number } = {}): Promise<OutputFile[]> {
    for (const name of names) assertInsideWorkdir(name);
    const maxBytes = options.maxBytes ?? this.host.fileBytes;
    const present = new Map((await this.listFiles()).map((file) => [file.name, file.bytes]));
    const wanted = names.filter((name) => (present.get(name) ?? Infinity) <= maxBytes);
    return getFilesByTar(this.transferTarget(), wanted, maxBytes);
  }

  async listFiles(): Promise<SandboxFileInfo[]> {
    const reply = await this.control({ op: "files" });
    if (Number(reply.omitted) > 0) this.host.logger.warn({ session: this.name, omitted: reply.omitted }, "working directory listing cut at its bound");
    return reply.files as SandboxFileInfo[];
  }

  async previewFiles(names: string[]): Promise<FilePreview[]> {
    for (const name of names) assertInsideWorkdir(name);
    const reply = await this.control({ op: "preview", names });
    return reply.previews as FilePreview[];
  }

  private async control(message: Record<string, unknown>): Promise<RunnerReply> {
    this.assertUsable();
    this.lastUsed = Date.now();
    this.inFlight += 1;
    let reply: RunnerReply;
    try {
      reply = await this.live.channel.request(message, CONTROL_TIMEOUT_MS);
    } catch (error) {
      this.assertUsable();
      if (error instanceof ChannelTimeoutError) {
        // A runner that stops answering between cells is beyond saving: start the session over.
        this.host.logger.warn({ session: this.name, op: message.op }, "runner stopped answering; replacing the session's container");
        await this.restart();
      }
      throw new SandboxError("sandbox_lost", "The Python session stopped answering and was restarted; variables and files are gone. Ask again.", { retryable: true, cause: error });
    } finally {
      this.inFlight -= 1;
    }
    if (!reply.ok) throw new SandboxError("sandbox_failed", "The Python session failed.", { details: { fault: reply.fault } });
    return reply;
  }

  private assertUsable(): void {
    if (this.released) throw new SandboxError("sandbox_lost", "The Python session was ended (reset, idle too long, or the bot is stopping). Ask again to start a new one.", { retryable: true });
  }

  private toCellResult(reply: RunnerReply, timeoutMs: number): CellResult {
    if (!reply.ok) throw new SandboxError("sandbox_failed", "The Python session failed to run the cell.", { details: { fault: reply.fault } });
    const error = reply.error as CellResult["error"];
    const timedOut = reply.timed_out === true;
    return {
      stdout: String(reply.stdout ?? ""),
      stderr: String(reply.stderr ?? ""),
      stdoutBytes: Number(reply.stdout_bytes ?? 0),
      stderrBytes: Number(reply.stderr_bytes ?? 0),
      value: (reply.value as string | null) ?? null,
      error: timedOut && error ? { ...error, message: `the cell ran past its ${timeoutMs / 1000} s limit (THREADBOOK_CELL_TIMEOUT_S) and was interrupted; variables are kept` } : error,
      figures: ((reply.figures as (SandboxFileInfo & { png?: string })[]) ?? []).map((figure) => ({
        name: figure.name,
        bytes: figure.bytes,
        png: figure.png === undefined ? null : Buffer.from(figure.png, "base64"),
      })),
      figuresOmitted: Array.isArray(reply.figures_omitted) ? reply.figures_omitted.map(String) : [],
      files: (reply.files as SandboxFileInfo[]) ?? [],
      filesOmitted: Number(reply.files_omitted ?? 0),
      durationMs: Number(reply.duration_ms ?? 0),
      timedOut,
      stateLost: false,
    };
  }

  private async restart(): Promise<void> {
    this.live.channel.close();
    this.live = await this.host.replace(this);
  }

  private async deathCause(): Promise<string> {
    try {
      const state = (await this.live.container.inspect()).State;
      if (state.OOMKilled) return "it ran out of memory";
      if (!state.Running) return `it exited with code ${state.ExitCode}`;
    } catch {
      return "its container is gone";
    }
    return "its channel closed";
  }

  private transferTarget() {
    return { container: this.live.container, modem: this.host.modem, user: SANDBOX_USER, workdir: WORKDIR };
  }
}

function lostResult(durationMs: number, timedOut: boolean, message: string): CellResult {
  return {
    stdout: "", stderr: "", stdoutBytes: 0, stderrBytes: 0, value: null,
    error: { name: timedOut ? "TimeoutError" : "SessionDied", message, traceback: "" },
    figures: [], figuresOmitted: [], files: [], filesOmitted: 0, durationMs, timedOut, stateLost: true,
  };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
