/**
 * The long-lived channel to the in-container runner: the container's own
 * stdin and stdout, attached once, carrying one JSON object per line each way.
 * A cell costs a line out and a line back, not a `docker exec`.
 */
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import type { Logger } from "../../log.ts";

/** A reply of the runner; `ok: false` carries `fault`, a failure of the runner itself. */
export interface RunnerReply {
  id: number;
  ok: boolean;
  fault?: string;
  [field: string]: unknown;
}

export class ChannelClosedError extends Error {
  constructor(message = "the runner's channel closed") {
    super(message);
    this.name = "ChannelClosedError";
  }
}

export class ChannelTimeoutError extends Error {
  constructor(milliseconds: number) {
    super(`the runner did not answer within ${milliseconds} ms`);
    this.name = "ChannelTimeoutError";
  }
}

interface Pending {
  resolve(reply: RunnerReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

export class RunnerChannel {
  private readonly socket: NodeJS.ReadWriteStream;
  private readonly pending = new Map<number, Pending>();
  private readonly logger: Logger;
  /** Starts at a random point: another process attached to the same runner sees its replies too. */
  private nextId = 1 + Math.floor(Math.random() * 1e9) * 1000;
  private buffer = "";
  private closedError: Error | undefined;

  private constructor(socket: NodeJS.ReadWriteStream, logger: Logger) {
    this.socket = socket;
    this.logger = logger;
  }

  /** Attaches to the container's stdin and stdout; call before `start()` for a new container. */
  static async attach(container: Docker.Container, modem: { demuxStream: Docker["modem"]["demuxStream"] }, logger: Logger): Promise<RunnerChannel> {
    const socket = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const channel = new RunnerChannel(socket, logger);
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    modem.demuxStream(socket, stdout, stderr);
    stdout.setEncoding("utf8");
    stdout.on("data", (chunk: string) => channel.receive(chunk));
    stderr.setEncoding("utf8");
    stderr.on("data", (chunk: string) => logger.warn({ runnerStderr: chunk.slice(0, 4000) }, "runner wrote to stderr"));
    socket.on("end", () => channel.fail(new ChannelClosedError()));
    socket.on("close", () => channel.fail(new ChannelClosedError()));
    socket.on("error", (error: Error) => channel.fail(new ChannelClosedError(`the runner's channel failed: ${error.message}`)));
    return channel;
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Sends a request and resolves with the runner's reply to it. */
  request(message: Record<string, unknown>, timeoutMs?: number): Promise<RunnerReply> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<RunnerReply>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.pending.delete(id);
        reject(new ChannelTimeoutError(timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ ...message, id })}\n`);
    });
  }

  close(): void {
    this.fail(new ChannelClosedError("the channel was closed"));
    this.socket.end();
    (this.socket as unknown as { destroy?: () => void }).destroy?.();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf("\n");
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf("\n");
      if (line.trim() === "") continue;
      let reply: RunnerReply;
      try {
        reply = JSON.parse(line) as RunnerReply;
      } catch {
        this.logger.warn({ line: line.slice(0, 500) }, "runner sent a line that is not JSON");
        continue;
      }
      const waiting = this.pending.get(reply.id);
      if (!waiting) continue; // the ready line, or a reply to a request of an earlier process
      this.pending.delete(reply.id);
      if (waiting.timer) clearTimeout(waiting.timer);
      waiting.resolve(reply);
    }
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      if (waiting.timer) clearTimeout(waiting.timer);
      waiting.reject(error);
    }
  }
}
