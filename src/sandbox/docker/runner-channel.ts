/**
 * The long-lived channel to the in-container runner: the container's own
 * stdin and stdout, attached once, carrying one JSON object per line each way.
 * A cell costs a line out and a line back, not a `docker exec`.
 *
 * Everything read here is untrusted: a cell can reach the runner's protocol
 * and diagnostics descriptors. Lines are bounded in bytes, parsed, and
 * checked against the schema of the request they answer. Anything else (a
 * line over the bound, one that is not JSON, a reply to no request, a reply
 * of the wrong shape, a diagnostics flood) is a protocol violation: the
 * channel closes with a `ProtocolViolationError` and the session's owner
 * restarts it. Diagnostics reach the log up to a byte cap; the rest is counted.
 */
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import type { z } from "zod";
import type { Logger } from "../../log.ts";
import { DockerStreamDemuxer } from "./docker-stream-demuxer.ts";
import { LineFramer } from "./line-framer.ts";
import { readyLine, replyEnvelope } from "./runner-replies.ts";

export class ChannelClosedError extends Error {
  constructor(message = "the runner's channel closed") {
    super(message);
    this.name = "ChannelClosedError";
  }
}

/** The runner sent something it may not: the channel is closed, the session must be restarted. */
export class ProtocolViolationError extends ChannelClosedError {
  readonly reason: string;
  constructor(reason: string) {
    super(`the runner broke the protocol: ${reason}`);
    this.name = "ProtocolViolationError";
    this.reason = reason;
  }
}

export class ChannelTimeoutError extends Error {
  constructor(milliseconds: number) {
    super(`the runner did not answer within ${milliseconds} ms`);
    this.name = "ChannelTimeoutError";
  }
}

export interface ChannelBounds {
  /** The longest line accepted from the runner. */
  maxLineBytes: number;
  /** Diagnostics logged per channel; beyond it they are counted, not logged. */
  logBytes: number;
  /** Diagnostics accepted per channel; beyond it the channel is closed as a violation. */
  diagnosticsBytes: number;
}

/** Late replies to an earlier process's requests a channel drops before it counts them as violations. */
const maxForeignReplies = 4;

export const defaultDiagnosticsBounds = { logBytes: 16 * 1024, diagnosticsBytes: 1024 * 1024 } as const;

interface Pending {
  schema: z.ZodType;
  resolve(reply: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class RunnerChannel {
  readonly #socket: Duplex;
  readonly #pending = new Map<number, Pending>();
  readonly #logger: Logger;
  readonly #bounds: ChannelBounds;
  readonly #framer: LineFramer;
  /**
   * Rises with time: a process attached to a runner its predecessor used
   * gives ids above any the predecessor gave, so the predecessor's late
   * replies are told apart from forged ones.
   */
  #nextId = Date.now() * 1000 + Math.floor(Math.random() * 1000);
  #closedError: Error | undefined;
  #diagnosticsBytes = 0;
  #diagnosticsDropped = 0;
  #onClose: ((error: Error) => void) | undefined;
  /** The first id this channel gave; a smaller one is a request another process sent. */
  readonly #firstId = this.#nextId;
  #readySeen = false;
  #replySeen = false;
  /** Replies to an earlier process's requests, dropped; past a few, a violation. */
  #foreignReplies = 0;

  constructor(socket: Duplex, logger: Logger, bounds: ChannelBounds) {
    this.#socket = socket;
    this.#logger = logger;
    this.#bounds = bounds;
    this.#framer = new LineFramer(bounds.maxLineBytes, {
      line: (line) => this.#receiveLine(line),
      tooLong: (bytes) => this.#violation(`a line of more than ${bytes} bytes without a newline (the bound is ${bounds.maxLineBytes})`),
    });
    const demuxer = new DockerStreamDemuxer((stream, data) => (stream === "stdout" ? this.#framer.push(data) : this.#receiveDiagnostics(data)));
    socket.on("data", (chunk: Buffer) => {
      if (!this.#closedError) demuxer.push(chunk);
    });
    socket.on("end", () => this.#fail(new ChannelClosedError()));
    socket.on("close", () => this.#fail(new ChannelClosedError()));
    socket.on("error", (error: Error) => this.#fail(new ChannelClosedError(`the runner's channel failed: ${error.message}`)));
  }

  /** Attaches to the container's stdin, stdout and stderr; call before `start()` for a new container. */
  static async attach(container: Docker.Container, logger: Logger, bounds: ChannelBounds): Promise<RunnerChannel> {
    const socket = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    return new RunnerChannel(socket, logger, bounds);
  }

  get closed(): boolean {
    return this.#closedError !== undefined;
  }

  /** Why the channel closed, once it has. */
  get closedError(): Error | undefined {
    return this.#closedError;
  }

  /** Told once, when the channel closes for any reason. */
  onClose(listener: (error: Error) => void): void {
    this.#onClose = listener;
    if (this.#closedError) listener(this.#closedError);
  }

  /** Sends a request and resolves with the runner's reply to it, checked against `schema`. */
  request<Schema extends z.ZodType>(message: Record<string, unknown>, schema: Schema, timeoutMs?: number): Promise<z.infer<Schema>> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const id = this.#nextId++;
    return new Promise<z.infer<Schema>>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.#pending.delete(id);
        reject(new ChannelTimeoutError(timeoutMs));
      }, timeoutMs);
      this.#pending.set(id, { schema, resolve: resolve as (reply: unknown) => void, reject, timer });
      this.#socket.write(`${JSON.stringify({ ...message, id })}\n`);
    });
  }

  /** Closes the channel: requests in flight reject, and nothing the runner sends after is read. */
  close(): void {
    this.#fail(new ChannelClosedError("the channel was closed"));
  }

  #receiveLine(line: Buffer): void {
    if (this.#closedError) return;
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return;
    let value: unknown;
    try {
      value = JSON.parse(line.toString("utf8"));
    } catch {
      this.#violation(`a line that is not JSON (${line.length} bytes, starting ${JSON.stringify(line.subarray(0, 60).toString("utf8"))})`);
      return;
    }
    const envelope = replyEnvelope.safeParse(value);
    if (!envelope.success) {
      this.#violation("a line that is not a reply (no numeric id)");
      return;
    }
    const { id } = envelope.data;
    if (id === 0 && readyLine.safeParse(value).success) {
      // Said once, first of all, as the runner starts; another, or one after a reply, is no runner's doing.
      if (this.#readySeen || this.#replySeen) this.#violation("a second ready line");
      this.#readySeen = true;
      return;
    }
    this.#replySeen = true;
    const waiting = this.#pending.get(id);
    if (!waiting) {
      // A process that attaches to a running session sees the late reply to the request its predecessor left running.
      if (id > 0 && id < this.#firstId && this.#foreignReplies < maxForeignReplies) {
        this.#foreignReplies += 1;
        this.#logger.info({ id }, "dropped the late reply to a request of an earlier process");
        return;
      }
      this.#violation(`a reply to no request in flight (id ${id})`);
      return;
    }
    if (envelope.data.ok === false) {
      this.#settle(id, waiting);
      const lost = envelope.data.lost;
      waiting.reject(lost !== undefined ? new KernelLostError(lost) : new RunnerFaultError(envelope.data.fault ?? "no reason given"));
      return;
    }
    const reply = waiting.schema.safeParse(value);
    if (!reply.success) {
      // The request stays pending, so the violation rejects it with the rest.
      const issue = reply.error.issues[0];
      this.#violation(`a reply of the wrong shape (${issue?.path.join(".") || "reply"}: ${issue?.message ?? "invalid"})`);
      return;
    }
    this.#settle(id, waiting);
    waiting.resolve(reply.data);
  }

  #settle(id: number, waiting: Pending): void {
    this.#pending.delete(id);
    if (waiting.timer) clearTimeout(waiting.timer);
  }

  #receiveDiagnostics(data: Buffer): void {
    this.#diagnosticsBytes += data.length;
    if (this.#diagnosticsBytes > this.#bounds.diagnosticsBytes) {
      this.#violation(`more than ${this.#bounds.diagnosticsBytes} bytes on its diagnostics stream`);
      return;
    }
    const room = this.#bounds.logBytes - (this.#diagnosticsBytes - data.length);
    if (room <= 0) {
      this.#diagnosticsDropped += data.length;
      return;
    }
    const logged = data.subarray(0, room);
    this.#diagnosticsDropped += data.length - logged.length;
    this.#logger.warn({ runnerStderr: logged.toString("utf8") }, "runner wrote to stderr");
  }

  #violation(reason: string): void {
    if (this.#closedError) return;
    this.#logger.warn({ reason }, "runner broke the protocol; its session is restarted");
    this.#fail(new ProtocolViolationError(reason));
  }

  #fail(error: Error): void {
    if (this.#closedError) return;
    this.#closedError = error;
    this.#framer.stop();
    for (const [id, waiting] of this.#pending) {
      this.#pending.delete(id);
      if (waiting.timer) clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    if (this.#diagnosticsDropped > 0) this.#logger.warn({ droppedBytes: this.#diagnosticsDropped }, "runner stderr over the log cap was dropped");
    this.#socket.destroy();
    this.#onClose?.(error);
  }
}

/**
 * The kernel died (or was replaced) while it held the request: the
 * supervisor started a new one, so variables are gone and files are kept.
 */
export class KernelLostError extends Error {
  readonly why: string;
  constructor(why: string) {
    super(`the Python kernel stopped: ${why}`);
    this.name = "KernelLostError";
    this.why = why.slice(0, 500);
  }
}

/** The runner answered `ok: false`: it failed at the request, though it still speaks the protocol. */
export class RunnerFaultError extends Error {
  readonly fault: string;
  constructor(fault: string) {
    super(`the runner failed: ${fault}`);
    this.name = "RunnerFaultError";
    this.fault = fault.slice(0, 2000);
  }
}
