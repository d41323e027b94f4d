/**
 * One conversation's session: a container running the runner, reached over
 * its attached channel. A cell that will not stop is interrupted, and if that
 * fails the container is replaced and the caller told that state was lost. A
 * runner that breaks the protocol (see runner-channel.ts) has its container
 * removed at once; the next request starts the session over.
 */
import type Docker from "dockerode";
import type { z } from "zod";
import { timedOut as noReplyYet, within } from "../../deadline.ts";
import { SandboxError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { assertInsideWorkdir, assertPlainFileName } from "../../file-names.ts";
import type { AcquireOptions, CellResult, FilePreview, GetFilesOptions, InputFile, OutputFile, RestoreOutcome, RunOptions, SandboxFileInfo, Session, SessionOrigin, SessionSkill, SnapshotOutcome } from "../sandbox.ts";
import { dockerCall } from "./docker-failure.ts";
import { getSnapshot, getWorkdirFiles, putSnapshot, putWorkdirFiles } from "./file-transfer.ts";
import { ChannelClosedError, ChannelTimeoutError, KernelLostError, ProtocolViolationError, RunnerFaultError, type RunnerChannel } from "./runner-channel.ts";
import { baselineReply, filesReply, previewReply, restartReply, restoreReply, runReply, snapshotReply, type RunReply } from "./runner-replies.ts";
import { replaceSkills, writeSkills } from "./skill-files.ts";

/** A started container with the runner answering on its channel. */
export interface LiveContainer {
  container: Docker.Container;
  channel: RunnerChannel;
  id: string;
  pythonVersion: string;
  /** The token of the container's door out, where it has one. */
  egressToken?: string | undefined;
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

type ControlSchema = typeof filesReply | typeof previewReply | typeof baselineReply | typeof restartReply | typeof snapshotReply | typeof restoreReply;

/** How long past its own limit a cell may take to stop itself before it is interrupted. */
const SELF_STOP_GRACE_MS = 2_000;
/** How long an interrupted cell may take to stop before its container is replaced. */
const INTERRUPT_GRACE_MS = 3_000;
const INTERRUPT_REPEAT_MS = 250;
const CONTROL_TIMEOUT_MS = 30_000;
/** How long the supervisor may take to end the kernel's processes and start a new kernel. */
const KERNEL_RESTART_MS = 30_000;
/** One transfer of files in or out. */
const TRANSFER_TIMEOUT_MS = 120_000;
/** Saving or restoring a namespace inside the kernel (a large DataFrame takes seconds). */
const SNAPSHOT_TIMEOUT_MS = 120_000;

export class DockerSession implements Session {
  readonly conversationKey: string;
  readonly name: string;
  origin: SessionOrigin;
  /** Where the skills of a container claimed for this session come from (after a restart too); set by the sandbox. */
  skillSource: AcquireOptions["skills"];
  /** What the session's door out may do for the turn holding it; given again to a container that replaces this one. */
  egressGrant: AcquireOptions["egress"];
  /** The `skillsVersion` of the skills its container holds (or is being given); undefined when not known. */
  skillsVersion: string | undefined;
  /** Skills being written into the container while the turn goes on; a cell waits for them. Settles with the failure, never rejects. */
  private skillsWriting: Promise<unknown> = Promise.resolve(null);
  lastUsed = Date.now();
  /** Requests in flight; a busy session is never reaped. */
  private inFlight = 0;
  /** Callers between `acquire` and `idle`; a held session is never evicted nor reaped. */
  private holds = 0;
  /** Set when the sandbox ended this session (release, reaping, shutdown). */
  private released = false;
  private live: LiveContainer;
  private readonly host: SessionHost;
  private readonly runSchema: ReturnType<typeof runReply>;

  constructor(options: { conversationKey: string; name: string; origin: SessionOrigin; live: LiveContainer; host: SessionHost }) {
    this.conversationKey = options.conversationKey;
    this.name = options.name;
    this.origin = options.origin;
    this.host = options.host;
    this.runSchema = runReply(options.host.outputBytes);
    this.live = options.live;
    this.watch(options.live);
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

  get held(): boolean {
    return this.holds > 0;
  }

  /** Counts a caller that acquired the session; `idle` ends its hold. */
  hold(): void {
    this.holds += 1;
  }

  idle(): void {
    this.holds = Math.max(0, this.holds - 1);
    this.lastUsed = Date.now();
  }

  /** Lets go of the container; a cell still running ends with `sandbox_lost`, nothing is restarted. */
  detach(): void {
    this.released = true;
    this.live.channel.close();
  }

  async run(code: string, options: RunOptions = {}): Promise<CellResult> {
    this.assertUsable();
    const timeoutMs = options.timeoutMs ?? this.host.cellTimeoutMs;
    const signal = options.signal;
    this.lastUsed = Date.now();
    this.inFlight += 1;
    const started = performance.now();
    try {
      await this.skillsReady();
      // A runner that broke the protocol between requests was removed: start over, and say that state is gone.
      const restartedFirst = await this.restartIfBroken();
      const result = await this.runOnce(code, timeoutMs, signal, started);
      return restartedFirst ? { ...result, stateLost: true } : result;
    } finally {
      this.inFlight -= 1;
      this.lastUsed = Date.now();
    }
  }

  private async runOnce(code: string, timeoutMs: number, signal: AbortSignal | undefined, started: number): Promise<CellResult> {
    const pending = this.live.channel.request({ op: "run", code, timeout: timeoutMs / 1000, output_bytes: this.host.outputBytes }, this.runSchema);
    pending.catch(() => undefined);
    const stopped = signal === undefined ? undefined : abortPromise(signal);
    try {
      let reply = await within(stopped === undefined ? pending : Promise.race([pending, stopped.promise]), timeoutMs + SELF_STOP_GRACE_MS);
      if (reply === noReplyYet || reply === stopRequested) {
        // Stopped by the caller, or stuck where Python cannot see its own alarm (inside C code): interrupt it.
        if (reply === noReplyYet) this.host.logger.warn({ session: this.name }, "cell did not stop at its limit; interrupting");
        reply = await this.interrupt(pending);
      }
      if (reply === noReplyYet) {
        this.host.logger.warn({ session: this.name }, "cell ignored the interrupt; restarting the session's kernel");
        const filesKept = await this.restartKernel();
        const why = signal?.aborted
          ? "The cell was stopped but did not react to the interrupt, so the Python kernel was restarted"
          : `The cell ran past its ${timeoutMs / 1000} s limit and did not stop, so the Python kernel was restarted`;
        const after = filesKept ? "variables are gone; the files in the working directory are kept." : "variables are gone, and so are the files in the working directory.";
        return lostResult(performance.now() - started, !signal?.aborted, `${why}: ${after}`, signal?.aborted === true);
      }
      return this.toCellResult(reply as RunReply, timeoutMs, signal?.aborted === true);
    } catch (error) {
      if (error instanceof KernelLostError) {
        this.host.logger.warn({ session: this.name, why: error.why }, "the kernel stopped during a cell; the supervisor started a new one");
        return lostResult(performance.now() - started, false, `The Python kernel stopped (${error.why}) and was restarted: variables are gone; the files in the working directory are kept.`, false);
      }
      if (error instanceof RunnerFaultError) throw new SandboxError("sandbox_failed", "The Python session failed to run the cell.", { details: { fault: error.fault } });
      if (!(error instanceof ChannelClosedError)) throw error;
      this.assertUsable();
      const why = error instanceof ProtocolViolationError ? "it sent the bot data it may not send" : await this.deathCause();
      this.host.logger.warn({ session: this.name, why }, "session died during a cell; replacing it");
      await this.restart();
      return lostResult(performance.now() - started, false, `The Python session died (${why}), so it was restarted: variables are gone, and so are the files in the working directory.`, false);
    } finally {
      stopped?.dispose();
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
    await putWorkdirFiles(this.transferTarget(), files, { timeoutMs: TRANSFER_TIMEOUT_MS });
    // Tell the runner the new files are the baseline, so they are not reported as made by a cell.
    await this.control({ op: "baseline" }, baselineReply);
    return files.map((file) => ({ name: file.name, bytes: file.data.length }));
  }

  async getFiles(names: string[], options: GetFilesOptions = {}): Promise<OutputFile[]> {
    for (const name of names) assertInsideWorkdir(name);
    this.assertUsable();
    const maxBytes = options.maxBytes ?? this.host.fileBytes;
    return getWorkdirFiles(this.transferTarget(), names, { maxBytes, totalBytes: options.totalBytes ?? maxBytes * Math.max(1, names.length), timeoutMs: TRANSFER_TIMEOUT_MS, signal: options.signal });
  }

  async listFiles(): Promise<SandboxFileInfo[]> {
    const reply = await this.control({ op: "files" }, filesReply);
    if (reply.omitted > 0) this.host.logger.warn({ session: this.name, omitted: reply.omitted }, "working directory listing cut at its bound");
    return reply.files;
  }

  async snapshot(limitBytes: number): Promise<SnapshotOutcome> {
    const reply = await this.control({ op: "snapshot", limit_bytes: limitBytes }, snapshotReply, SNAPSHOT_TIMEOUT_MS);
    if (reply.over || reply.bytes === 0) return { data: null, saved: [], skipped: reply.skipped, overLimit: reply.over };
    const data = await getSnapshot(this.transferTarget(), { maxBytes: limitBytes, timeoutMs: TRANSFER_TIMEOUT_MS });
    if (data === null || data.length !== reply.bytes) {
      throw new SandboxError("sandbox_failed", "The session's variables could not be read out.", { retryable: true, details: { expected: reply.bytes, got: data?.length ?? null } });
    }
    return { data, saved: reply.saved, skipped: reply.skipped, overLimit: false };
  }

  async restore(data: Buffer): Promise<RestoreOutcome> {
    await putSnapshot(this.transferTarget(), data, { timeoutMs: TRANSFER_TIMEOUT_MS });
    const reply = await this.control({ op: "restore" }, restoreReply, SNAPSHOT_TIMEOUT_MS);
    return { restored: reply.restored, failed: reply.failed };
  }

  async previewFiles(names: string[]): Promise<FilePreview[]> {
    for (const name of names) assertInsideWorkdir(name);
    const reply = await this.control({ op: "preview", names }, previewReply);
    return reply.previews;
  }

  private async control<Schema extends ControlSchema>(message: Record<string, unknown>, schema: Schema, timeoutMs = CONTROL_TIMEOUT_MS): Promise<z.infer<Schema>> {
    this.assertUsable();
    this.lastUsed = Date.now();
    this.inFlight += 1;
    try {
      await this.restartIfBroken();
      return (await this.live.channel.request(message, schema, timeoutMs)) as z.infer<Schema>;
    } catch (error) {
      if (error instanceof RunnerFaultError) throw new SandboxError("sandbox_failed", "The Python session failed.", { details: { fault: error.fault } });
      if (error instanceof SandboxError) throw error;
      if (error instanceof KernelLostError) {
        throw new SandboxError("sandbox_lost", `The Python kernel stopped (${error.why}) and was restarted: variables are gone; the files in the working directory are kept.`, { retryable: true, cause: error });
      }
      this.assertUsable();
      if (error instanceof ChannelTimeoutError || error instanceof ProtocolViolationError) {
        // A runner that stops answering, or breaks the protocol, between cells is beyond saving: start the session over.
        this.host.logger.warn({ session: this.name, op: message.op, why: error.message }, "replacing the session's container");
        await this.restart();
      }
      throw new SandboxError("sandbox_lost", "The Python session stopped answering and was restarted; variables and files are gone. Ask again.", { retryable: true, cause: error });
    } finally {
      this.inFlight -= 1;
    }
  }

  private assertUsable(): void {
    if (this.released) throw new SandboxError("sandbox_lost", "The Python session was ended (reset, idle too long, or the bot is stopping). Ask again to start a new one.", { retryable: true });
  }

  private toCellResult(reply: RunReply, timeoutMs: number, stoppedByCaller: boolean): CellResult {
    const timedOut = reply.timed_out && !stoppedByCaller;
    let error = reply.error;
    if (error && reply.timed_out) {
      error = stoppedByCaller
        ? { ...error, name: "KeyboardInterrupt", message: "the cell was stopped; variables are kept" }
        : { ...error, message: `the cell ran past its ${timeoutMs / 1000} s limit (THREADBOOK_CELL_TIMEOUT_S) and was interrupted; variables are kept` };
    }
    return {
      stdout: reply.stdout,
      stderr: reply.stderr,
      stdoutBytes: reply.stdout_bytes,
      stderrBytes: reply.stderr_bytes,
      value: reply.value,
      valueHtml: reply.value_html,
      error,
      figures: reply.figures.map((figure) => ({ name: figure.name, bytes: figure.bytes, png: figure.png === undefined ? null : Buffer.from(figure.png, "base64") })),
      figuresOmitted: reply.figures_omitted,
      files: reply.files,
      filesOmitted: reply.files_omitted,
      durationMs: reply.duration_ms,
      timedOut,
      stopped: stoppedByCaller && reply.timed_out,
      stateLost: false,
    };
  }

  /**
   * Interrupts the running cell and waits for its reply, up to the grace.
   * The runner acts on an interrupt only while a cell runs, so one that lands
   * just before the cell starts (its request still on the way in) is ignored:
   * the interrupt is sent again every INTERRUPT_REPEAT_MS until the reply
   * comes. None can reach a later cell, which starts only after this reply.
   */
  private async interrupt<T>(pending: Promise<T>): Promise<T | typeof noReplyYet> {
    const deadline = performance.now() + INTERRUPT_GRACE_MS;
    for (;;) {
      await dockerCall("Interrupting the cell", this.live.container.kill({ signal: "SIGINT" }), INTERRUPT_GRACE_MS).catch(() => undefined);
      const left = deadline - performance.now();
      if (left <= 0) return noReplyYet;
      const reply = await within(pending, Math.min(left, INTERRUPT_REPEAT_MS));
      if (reply !== noReplyYet || performance.now() >= deadline) return reply;
    }
  }

  /**
   * Kills the container at once when its runner breaks the protocol, so it
   * stops sending and is never resumed; the restart that follows removes it.
   */
  /**
   * Writes skills into the container in the background (skill-files.ts), so
   * that acquiring never waits for the exec: the turn's first model step runs
   * meanwhile, and a cell waits until they are there. `replace` removes the
   * skills held before. A container restarted meanwhile got its skills as it
   * was claimed, so it is left alone.
   */
  giveSkills(skills: () => Promise<readonly SessionSkill[]>, options: { replace: boolean; version: string | undefined }): void {
    const live = this.live;
    this.skillsVersion = options.version;
    this.skillsWriting = this.skillsWriting.then(async () => {
      try {
        const set = await skills();
        if (this.live === live) await (options.replace ? replaceSkills : writeSkills)(live.container, this.host.modem, set);
        return null;
      } catch (error) {
        // A container replaced meanwhile is gone, and so is the failure to write into it.
        return this.live === live ? error : null;
      }
    });
  }

  /** Waits for skills being written; a failure fails this cell (retryable) and has the next acquire write them again. */
  private async skillsReady(): Promise<void> {
    const failure = await this.skillsWriting;
    if (failure === null) return;
    this.skillsWriting = Promise.resolve(null);
    this.skillsVersion = undefined;
    this.host.logger.warn({ session: this.name, err: failure }, "could not write the session's skills");
    throw new SandboxError("sandbox_failed", "The session's skills could not be put in place, so the code did not run. Try again.", { retryable: true, cause: failure });
  }

  private watch(live: LiveContainer): void {
    live.channel.onClose((error) => {
      if (!(error instanceof ProtocolViolationError) || this.live !== live) return;
      live.container.kill({ signal: "SIGKILL" }).catch(() => undefined);
    });
  }

  /** Starts the session over when its channel broke while nothing was in flight; true when it did. */
  private async restartIfBroken(): Promise<boolean> {
    if (!this.live.channel.closed) return false;
    const why = this.live.channel.closedError instanceof ProtocolViolationError ? "it broke the protocol" : "its channel closed";
    this.host.logger.warn({ session: this.name, why }, "session broke between requests; replacing it");
    await this.restart();
    return true;
  }

  /**
   * Has the supervisor end every process of the sandbox user and start a new
   * kernel, the working directory kept; true when it did. A supervisor that
   * does not answer has its container replaced instead (false: files gone).
   */
  private async restartKernel(): Promise<boolean> {
    try {
      await this.live.channel.request({ op: "restart" }, restartReply, KERNEL_RESTART_MS);
      return true;
    } catch (error) {
      this.host.logger.warn({ session: this.name, err: error }, "the supervisor did not restart the kernel; replacing the session's container");
      await this.restart();
      return false;
    }
  }

  private async restart(): Promise<void> {
    this.live.channel.close();
    this.live = await this.host.replace(this);
    this.watch(this.live);
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
    return { container: this.live.container, modem: this.host.modem };
  }
}

function lostResult(durationMs: number, timedOut: boolean, message: string, stopped: boolean): CellResult {
  return {
    stdout: "", stderr: "", stdoutBytes: 0, stderrBytes: 0, value: null, valueHtml: null,
    error: { name: stopped ? "KeyboardInterrupt" : timedOut ? "TimeoutError" : "SessionDied", message, traceback: "" },
    figures: [], figuresOmitted: [], files: [], filesOmitted: 0, durationMs, timedOut, stopped, stateLost: true,
  };
}

const stopRequested = Symbol("stop requested");

/** Settles with `stopRequested` when the signal aborts; `dispose` removes the listener. */
function abortPromise(signal: AbortSignal): { promise: Promise<typeof stopRequested>; dispose(): void } {
  let listener: (() => void) | undefined;
  const promise = new Promise<typeof stopRequested>((resolve) => {
    listener = () => resolve(stopRequested);
    if (signal.aborted) resolve(stopRequested);
    else signal.addEventListener("abort", listener, { once: true });
  });
  return { promise, dispose: () => listener && signal.removeEventListener("abort", listener) };
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
