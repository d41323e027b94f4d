/**
 * A `RunnerChannel` over a real TCP connection on 127.0.0.1, with the test
 * playing the container: it reads the requests the channel writes and sends
 * back bytes framed as Docker frames an attached, TTY-less container's
 * stdout and stderr. `send` resolves once the channel's socket has received
 * every byte sent so far, so each piece arrives, and is handled, on its own.
 */
import { once } from "node:events";
import { createServer, connect, type Socket } from "node:net";
import type { Logger } from "../../src/log.ts";
import { RunnerChannel, type ChannelBounds } from "../../src/sandbox/docker/runner-channel.ts";

/** One Docker frame: stream type (1 stdout, 2 stderr) in byte 0, payload length big-endian in bytes 4–7. */
export function dockerFrame(stream: "stdout" | "stderr" | number, payload: Buffer | string): Buffer {
  const data = Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream === "stdout" ? 1 : stream === "stderr" ? 2 : stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

export interface LoopbackContainer {
  /** Writes bytes and resolves once the channel's socket has read them all. */
  send(bytes: Buffer): Promise<void>;
  /** Sends each piece on its own, in order. */
  sendPieces(pieces: Buffer[]): Promise<void>;
  /** The next request the channel wrote, parsed. */
  nextRequest(): Promise<Record<string, unknown> & { id: number }>;
  /** Settles when the connection is closed from either side. */
  readonly closed: Promise<void>;
  /** Hangs up, as a container that exits does. */
  hangUp(): void;
}

export interface LoopbackChannel {
  channel: RunnerChannel;
  container: LoopbackContainer;
  /** Closes the connection and the listener. */
  stop(): Promise<void>;
}

export async function openLoopbackChannel(logger: Logger, bounds: ChannelBounds): Promise<LoopbackChannel> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the loopback listener has no port");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const client = connect(address.port, "127.0.0.1");
  await once(client, "connect");
  const [containerSide] = await accepted;
  client.setNoDelay(true);
  containerSide.setNoDelay(true);

  const channel = new RunnerChannel(client, logger, bounds);

  // Added after the channel's own listener, so a count reached means the channel has handled those bytes.
  let received = 0;
  let sent = 0;
  let waiters: { until: number; resolve: () => void }[] = [];
  const settle = () => {
    waiters = waiters.filter((waiter) => {
      if (received < waiter.until && !client.destroyed) return true;
      waiter.resolve();
      return false;
    });
  };
  client.on("data", (chunk: Buffer) => {
    received += chunk.length;
    settle();
  });
  client.on("close", settle);

  const requests: (Record<string, unknown> & { id: number })[] = [];
  let requestWaiter: (() => void) | undefined;
  let partial = "";
  containerSide.on("data", (chunk: Buffer) => {
    partial += chunk.toString("utf8");
    let newline = partial.indexOf("\n");
    while (newline !== -1) {
      requests.push(JSON.parse(partial.slice(0, newline)) as Record<string, unknown> & { id: number });
      partial = partial.slice(newline + 1);
      newline = partial.indexOf("\n");
    }
    requestWaiter?.();
  });
  containerSide.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => containerSide.once("close", () => resolve()));

  const container: LoopbackContainer = {
    async send(bytes) {
      sent += bytes.length;
      const until = sent;
      const arrived = new Promise<void>((resolve) => waiters.push({ until, resolve }));
      containerSide.write(bytes);
      settle();
      await arrived;
    },
    async sendPieces(pieces) {
      for (const piece of pieces) await container.send(piece);
    },
    async nextRequest() {
      while (requests.length === 0) await new Promise<void>((resolve) => { requestWaiter = resolve; });
      return requests.shift()!;
    },
    closed,
    hangUp: () => containerSide.end(),
  };

  return {
    channel,
    container,
    async stop() {
      channel.close();
      containerSide.destroy();
      await closed;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `bytes` cut into pieces of `size` bytes. */
export function cut(bytes: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.subarray(offset, offset + size));
  return pieces;
}
