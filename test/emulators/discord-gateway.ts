/**
 * The emulator's gateway: a WebSocket on loopback speaking Discord's JSON
 * protocol without compression. Hello (op 10), Identify (op 2) → READY and
 * GUILD_CREATE, Heartbeat (op 1) → Heartbeat ACK (op 11), dispatches (op 0)
 * with sequence numbers, and Resume (op 6) after a drop: the dispatches the
 * client missed are replayed, then RESUMED. Anything else is a fault.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

export interface GatewayOptions {
  token: string;
  heartbeatIntervalMs: number;
  /** The READY payload without session fields; the gateway adds session_id and resume_gateway_url. */
  ready: () => Record<string, unknown>;
  guildCreate: () => Record<string, unknown>;
  fault: (message: string) => void;
}

interface Dispatched {
  seq: number;
  type: string;
  data: unknown;
}

export class EmulatedGateway {
  readonly #options: GatewayOptions;
  readonly #server: WebSocketServer;
  #url = "";
  #socket: WebSocket | undefined;
  #sessionId = "";
  #seq = 0;
  readonly #log: Dispatched[] = [];
  /** How many already-delivered dispatches the next resume replays again, as Discord does when it did not see them acknowledged. */
  #redeliver = 0;
  readonly #waiters: { test: () => boolean; resolve: () => void }[] = [];
  identifies = 0;
  /** The `shard` field of each Identify, [id, count]; [0, 1] when a client sent none. */
  readonly identifiedShards: [number, number][] = [];
  resumes = 0;
  heartbeats = 0;
  heartbeatAcks = 0;

  constructor(httpServer: Server, options: GatewayOptions) {
    this.#options = options;
    this.#server = new WebSocketServer({ server: httpServer, path: "/gateway" });
    this.#server.on("connection", (socket, request) => this.#accept(socket, request.url ?? ""));
  }

  set url(value: string) {
    this.#url = value;
  }

  get connected(): boolean {
    return this.#socket !== undefined && this.#socket.readyState === 1;
  }

  /** Sends a dispatch (op 0) now, or keeps it for the resume when no client is connected. */
  dispatch(type: string, data: unknown): number {
    this.#seq += 1;
    const entry = { seq: this.#seq, type, data };
    this.#log.push(entry);
    if (this.connected && this.#sessionId !== "") this.#send({ op: 0, t: type, s: entry.seq, d: data });
    return entry.seq;
  }

  /** Closes the connection as a network drop would (close code 4000: resumable); the next resume replays `redeliver` delivered dispatches again. */
  drop(redeliver = 0): void {
    this.#redeliver = redeliver;
    this.#socket?.close(4000, "emulated drop");
  }

  /** Resolves once the predicate on the gateway's counters holds. */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  async close(): Promise<void> {
    for (const client of this.#server.clients) client.terminate();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: WebSocket, url: string): void {
    const query = new URL(url, "http://127.0.0.1").searchParams;
    if (query.get("v") !== "10" || query.get("encoding") !== "json" || query.has("compress")) {
      this.#options.fault(`gateway connection with unexpected query ${url}`);
    }
    this.#socket?.terminate();
    this.#socket = socket;
    socket.on("message", (raw) => this.#receive(socket, raw.toString()));
    this.#send({ op: 10, d: { heartbeat_interval: this.#options.heartbeatIntervalMs } });
  }

  #receive(socket: WebSocket, raw: string): void {
    if (socket !== this.#socket) return;
    let payload: { op: number; d: any };
    try {
      payload = JSON.parse(raw);
    } catch {
      this.#options.fault(`gateway payload is not JSON: ${raw.slice(0, 100)}`);
      return;
    }
    switch (payload.op) {
      case 1:
        this.heartbeats += 1;
        this.#send({ op: 11 });
        this.heartbeatAcks += 1;
        break;
      case 2:
        if (payload.d?.token !== this.#options.token) {
          socket.close(4004, "Authentication failed");
          this.#options.fault("identify with the wrong token");
          return;
        }
        const shard = identifiedShard(payload.d?.shard);
        if (shard === null) {
          socket.close(4010, "Invalid shard");
          this.#options.fault(`identify with an invalid shard ${JSON.stringify(payload.d?.shard)}`);
          return;
        }
        this.identifies += 1;
        this.identifiedShards.push(shard);
        this.#sessionId = randomBytes(8).toString("hex");
        this.dispatch("READY", { ...this.#options.ready(), session_id: this.#sessionId, resume_gateway_url: this.#url, shard });
        this.dispatch("GUILD_CREATE", this.#options.guildCreate());
        break;
      case 6: {
        if (payload.d?.token !== this.#options.token || payload.d?.session_id !== this.#sessionId) {
          this.#options.fault("resume with the wrong token or session");
          socket.close(4006, "Session no longer valid");
          return;
        }
        this.resumes += 1;
        const from = Math.max(0, Number(payload.d.seq) - this.#redeliver);
        this.#redeliver = 0;
        for (const entry of this.#log.filter((logged) => logged.seq > from)) this.#send({ op: 0, t: entry.type, s: entry.seq, d: entry.data });
        this.#seq += 1;
        this.#send({ op: 0, t: "RESUMED", s: this.#seq, d: {} });
        break;
      }
      case 3: // presence update
      case 4: // voice state
        break;
      default:
        this.#options.fault(`unexpected gateway op ${payload.op}`);
    }
    this.#wake();
  }

  #send(payload: unknown): void {
    this.#socket?.send(JSON.stringify(payload));
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      if (!waiter.test()) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
}

/** Identify's shard as Discord checks it: absent is [0, 1]; else [id, count] with 0 <= id < count (close code 4010 otherwise). */
function identifiedShard(shard: unknown): [number, number] | null {
  if (shard === undefined) return [0, 1];
  if (!Array.isArray(shard) || shard.length !== 2 || !shard.every((part) => Number.isInteger(part))) return null;
  const [id, count] = shard as [number, number];
  return id >= 0 && count >= 1 && id < count ? [id, count] : null;
}
