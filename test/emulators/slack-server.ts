/**
 * A Slack emulator on 127.0.0.1 for the real Bolt app: the Web API methods
 * the adapter calls (POST /api/<method>, form-encoded as @slack/web-api sends
 * them), the file upload flow and downloads, and Socket Mode over a
 * WebSocket (hello, events_api envelopes, acks, retries, disconnects).
 *
 * It fails loudly: an unknown method, a wrong token or an unknown upload is
 * a fault that `assertDone()` throws on. Every call is recorded, and a test
 * waits for the call it expects with `waitForCall`, never a sleep.
 */
import { createHmac, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { blocksBroken } from "./slack-block-rules.ts";

export interface SlackCall {
  method: string;
  /** The request's fields, JSON-encoded values decoded. */
  args: Record<string, unknown>;
  at: number;
}

export interface SlackMessage {
  channel: string;
  ts: string;
  threadTs: string | undefined;
  text: string;
  blocks: unknown[];
  /** For a streamed message: its chunks in order. */
  chunks: Record<string, unknown>[];
  streaming: "no" | "open" | "stopped";
}

/** A message only one user sees (chat.postEphemeral). */
export interface EphemeralMessage {
  channel: string;
  user: string;
  threadTs: string | undefined;
  text: string;
}

export interface UploadedFile {
  id: string;
  name: string;
  data: Buffer;
  channel: string | undefined;
  threadTs: string | undefined;
}

export interface SlackServerOptions {
  botToken: string;
  appToken: string;
  teamId: string;
  botUserId: string;
}

export class SlackServer {
  readonly calls: SlackCall[] = [];
  readonly faults: string[] = [];
  readonly messages: SlackMessage[] = [];
  readonly ephemerals: EphemeralMessage[] = [];
  readonly uploads = new Map<string, UploadedFile>();
  /** The ids of files downloaded (whether or not the download was authorised), in order. */
  readonly downloads: string[] = [];
  /** Socket Mode acks received, by envelope id. */
  readonly acks: string[] = [];
  /** Streaming on: chat.startStream works. Off: it answers an error, as Slack does where streaming is not allowed. */
  streaming = true;
  /** Off: file downloads answer Slack's sign-in page, as they do for an app without files:read. */
  filesReadScope = true;
  /** Channels the bot was removed from: chat.postMessage there answers `not_in_channel`, as Slack does. */
  readonly leftChannels = new Set<string>();
  readonly #options: SlackServerOptions;
  readonly #server: Server;
  readonly #sockets: WebSocketServer;
  readonly #open = new Set<WebSocket>();
  readonly #events = new EventEmitter();
  readonly #files = new Map<string, { data: Buffer; type: string }>();
  #clock = 1_700_000_000;
  #sequence = 0;
  #origin = "";

  constructor(options: SlackServerOptions) {
    this.#options = options;
    this.#events.setMaxListeners(100);
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.faults.push(`emulator failed: ${error instanceof Error ? error.stack : String(error)}`);
        if (!response.headersSent) response.writeHead(500).end();
      });
    });
    this.#sockets = new WebSocketServer({ noServer: true });
    this.#server.on("upgrade", (request, socket, head) => {
      if (!request.url?.startsWith("/socket")) return socket.destroy();
      this.#sockets.handleUpgrade(request, socket, head, (ws) => {
        this.#open.add(ws);
        ws.on("close", () => this.#open.delete(ws));
        ws.on("message", (data) => {
          const message = JSON.parse(String(data)) as { envelope_id?: string };
          if (typeof message.envelope_id === "string") {
            this.acks.push(message.envelope_id);
            this.#events.emit("ack", message.envelope_id);
          }
        });
        ws.send(JSON.stringify({ type: "hello", num_connections: this.#open.size, connection_info: { app_id: "A1" } }));
        this.#events.emit("connected");
      });
    });
  }

  static async start(options: SlackServerOptions): Promise<SlackServer> {
    const server = new SlackServer(options);
    await new Promise<void>((resolve) => server.#server.listen(0, "127.0.0.1", resolve));
    server.#origin = `http://127.0.0.1:${(server.#server.address() as AddressInfo).port}`;
    return server;
  }

  /** For SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.#origin}/api/`;
  }

  get connections(): number {
    return this.#open.size;
  }

  /** A file users can attach: its event object, served at a URL that needs the bot token. */
  addFile(name: string, data: Buffer, type = "text/csv"): Record<string, unknown> {
    const id = `F${(++this.#sequence).toString().padStart(8, "0")}`;
    this.#files.set(id, { data, type });
    return { id, name, size: data.length, mimetype: type, url_private: `${this.#origin}/files/${id}/${name}`, url_private_download: `${this.#origin}/files/${id}/download/${name}` };
  }

  /** A new message ts, as Slack would give a user's post. */
  nextTs(): string {
    this.#clock += 1;
    return `${this.#clock}.${String(++this.#sequence).padStart(6, "0")}`;
  }

  /**
   * Sends an events_api envelope over every open socket (normally one), or,
   * with `connection`, over that one only (by the order they opened), as
   * Slack spreads an app's events over its connections (up to 10, one per
   * replica); resolves with its envelope id once acknowledged. `eventId`
   * repeats an event, as Slack's retry of one does.
   */
  async deliver(event: Record<string, unknown>, options: { retryAttempt?: number; envelopeId?: string; connection?: number; eventId?: string } = {}): Promise<string> {
    const envelopeId = options.envelopeId ?? randomBytes(8).toString("hex");
    const payload = this.eventCallback(event, options.eventId);
    const acked = this.#waitFor("ack", (id) => id === envelopeId, 10_000, `the ack of envelope ${envelopeId}`);
    this.#send({ envelope_id: envelopeId, type: "events_api", accepts_response_payload: false, retry_attempt: options.retryAttempt ?? 0, retry_reason: options.retryAttempt ? "timeout" : "", payload }, options.connection);
    await acked;
    return envelopeId;
  }

  /** The Events API's outer object around an event, as both Socket Mode and HTTP mode carry it. */
  eventCallback(event: Record<string, unknown>, eventId: string = `Ev${randomBytes(5).toString("hex").toUpperCase()}`): Record<string, unknown> {
    return {
      token: "verification", team_id: this.#options.teamId, api_app_id: "A1", type: "event_callback",
      event_id: eventId, event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ team_id: this.#options.teamId, user_id: this.#options.botUserId, is_bot: true }],
      event,
    };
  }

  /**
   * HTTP mode: POSTs a payload to the app's request URL as Slack does,
   * signed with the signing secret (v0: HMAC-SHA256 of "v0:<timestamp>:<body>").
   * `timestampSeconds` and `secret` let a test send an old or a forged request;
   * `retryNum` sets X-Slack-Retry-Num, as Slack's redelivery of an event it
   * saw no answer to in time does.
   */
  async deliverHttp(url: string, payload: Record<string, unknown>, options: { secret: string; timestampSeconds?: number; retryNum?: number }): Promise<{ status: number; body: string }> {
    return this.#signedPost(url, JSON.stringify(payload), "application/json", options);
  }

  /** HTTP mode: an interactive payload (a button click), form-encoded as `payload=<JSON>` and signed, as Slack posts it. */
  async deliverHttpInteraction(url: string, payload: Record<string, unknown>, options: { secret: string }): Promise<{ status: number; body: string }> {
    return this.#signedPost(url, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), "application/x-www-form-urlencoded", options);
  }

  async #signedPost(url: string, body: string, contentType: string, options: { secret: string; timestampSeconds?: number; retryNum?: number }): Promise<{ status: number; body: string }> {
    const timestamp = String(options.timestampSeconds ?? Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac("sha256", options.secret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": contentType, "x-slack-signature": signature, "x-slack-request-timestamp": timestamp,
        ...(options.retryNum === undefined ? {} : { "x-slack-retry-num": String(options.retryNum), "x-slack-retry-reason": "http_timeout" }),
      },
      body,
    });
    return { status: response.status, body: await response.text() };
  }

  /** Sends an interactive payload (a button click) over the socket. */
  async deliverInteraction(payload: Record<string, unknown>): Promise<void> {
    const envelopeId = randomBytes(8).toString("hex");
    const acked = this.#waitFor("ack", (id) => id === envelopeId, 10_000, "the ack of an interaction");
    this.#send({ envelope_id: envelopeId, type: "interactive", accepts_response_payload: false, payload });
    await acked;
  }

  /** Closes every socket at once, as a network drop does; the client reconnects through apps.connections.open. */
  dropConnections(): void {
    for (const socket of this.#open) socket.terminate();
  }

  /** Resolves at the next new connection (the hello sent), such as the client's reconnection after a drop. */
  nextConnection(timeoutMs = 20_000): Promise<void> {
    return this.#waitFor("connected", () => true, timeoutMs, "a new Socket Mode connection");
  }

  /** Resolves once a socket is connected (the hello sent). */
  whenConnected(timeoutMs = 20_000): Promise<void> {
    return this.whenConnections(1, timeoutMs);
  }

  /** Resolves once at least `count` Socket Mode connections are open (one per replica of the app). */
  whenConnections(count: number, timeoutMs = 20_000): Promise<void> {
    if (this.#open.size >= count) return Promise.resolve();
    return this.#waitFor("connected", () => this.#open.size >= count, timeoutMs, `${count} Socket Mode connection(s)`);
  }

  /** The first call (already made or to come) of `method` that matches. */
  waitForCall(method: string, matches: (call: SlackCall) => boolean = () => true, timeoutMs = 60_000): Promise<SlackCall> {
    const found = this.calls.find((call) => call.method === method && matches(call));
    if (found !== undefined) return Promise.resolve(found);
    return this.#waitFor("call", (call: SlackCall) => call.method === method && matches(call), timeoutMs, `a call of ${method}`);
  }

  /** Calls `listener` with every call from now on, after it was answered; returns a function that stops it. */
  onCall(listener: (call: SlackCall) => void): () => void {
    this.#events.on("call", listener);
    return () => this.#events.off("call", listener);
  }

  callsOf(method: string): SlackCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** The bot's messages in a thread, oldest first. */
  thread(channel: string, rootTs: string): SlackMessage[] {
    return this.messages.filter((message) => message.channel === channel && (message.threadTs === rootTs || message.ts === rootTs));
  }

  filesIn(channel: string, rootTs: string): UploadedFile[] {
    return [...this.uploads.values()].filter((file) => file.channel === channel && file.threadTs === rootTs);
  }

  takeFaults(): string[] {
    return this.faults.splice(0);
  }

  assertDone(): void {
    if (this.faults.length > 0) throw new Error(`the Slack emulator saw faults:\n${this.faults.join("\n")}`);
  }

  async stop(): Promise<void> {
    for (const socket of this.#open) socket.terminate();
    this.#sockets.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #send(message: object, connection?: number): void {
    const text = JSON.stringify(message);
    if (this.#open.size === 0) this.faults.push("an event was delivered with no socket connected");
    const sockets = connection === undefined ? [...this.#open] : [...this.#open].slice(connection, connection + 1);
    if (sockets.length === 0 && this.#open.size > 0) this.faults.push(`an event was delivered to connection ${connection}, of ${this.#open.size}`);
    for (const socket of sockets) socket.send(text);
  }

  #waitFor<T>(name: string, matches: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = (value: T) => {
        if (!matches(value)) return;
        clearTimeout(timer);
        this.#events.off(name, listener);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.#events.off(name, listener);
        reject(new Error(`the Slack emulator waited ${timeoutMs} ms for ${what}`));
      }, timeoutMs);
      this.#events.on(name, listener);
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", this.#origin);
    const body = await readBody(request);
    if (url.pathname.startsWith("/files/")) return this.#download(request, response, url);
    if (url.pathname.startsWith("/upload/")) return this.#receiveUpload(request, response, url, body);
    if (request.method !== "POST" || !url.pathname.startsWith("/api/")) return this.#fault(response, `unexpected ${request.method} ${url.pathname}`);
    const method = url.pathname.slice("/api/".length);
    const args = parseForm(body, request.headers["content-type"] ?? "");
    const call = { method, args, at: performance.now() };
    const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
    const wanted = method === "apps.connections.open" ? this.#options.appToken : this.#options.botToken;
    if (token !== wanted) {
      this.faults.push(`${method} called with the wrong token`);
      return sendJson(response, { ok: false, error: "invalid_auth" });
    }
    const refusal = blockLimitsBroken(method, args);
    if (refusal !== null) {
      this.calls.push(call);
      this.faults.push(`${method}: ${refusal}`);
      return sendJson(response, { ok: false, error: "invalid_blocks" });
    }
    const result = this.#answer(method, args);
    this.calls.push(call);
    if (result === undefined) return this.#fault(response, `unexpected method ${method}`);
    sendJson(response, result);
    this.#events.emit("call", call);
  }

  #answer(method: string, args: Record<string, unknown>): Record<string, unknown> | undefined {
    const ok = (extra: Record<string, unknown> = {}) => ({ ok: true, ...extra });
    const channel = String(args.channel ?? args.channel_id ?? "");
    switch (method) {
      case "auth.test":
        return ok({ url: "https://example.invalid/", team: "Emulated", user: "threadbook", team_id: this.#options.teamId, user_id: this.#options.botUserId, bot_id: "B0BOT", is_enterprise_install: false });
      case "apps.connections.open":
        return ok({ url: `${this.#origin.replace("http", "ws")}/socket?ticket=${++this.#sequence}` });
      case "chat.postMessage": {
        if (this.leftChannels.has(channel)) return { ok: false, error: "not_in_channel" };
        const message = this.#newMessage(channel, args);
        return ok({ channel, ts: message.ts, message: { text: message.text, ts: message.ts } });
      }
      case "chat.update": {
        const message = this.messages.find((candidate) => candidate.channel === channel && candidate.ts === args.ts);
        if (message === undefined) return { ok: false, error: "message_not_found" };
        message.text = String(args.text ?? "");
        message.blocks = asArray(args.blocks);
        return ok({ channel, ts: message.ts });
      }
      case "chat.postEphemeral": {
        if (typeof args.user !== "string" || args.user === "") return { ok: false, error: "user_not_in_channel" };
        if (channel === "") return { ok: false, error: "channel_not_found" };
        if (String(args.text ?? "") === "" && asArray(args.blocks).length === 0) return { ok: false, error: "no_text" };
        this.ephemerals.push({ channel, user: args.user, threadTs: typeof args.thread_ts === "string" ? args.thread_ts : undefined, text: String(args.text ?? "") });
        return ok({ message_ts: this.nextTs() });
      }
      case "chat.startStream": {
        if (!this.streaming) return { ok: false, error: "not_allowed_token_type" };
        const message = this.#newMessage(channel, args);
        message.streaming = "open";
        message.chunks.push(...streamChunks(args));
        return ok({ channel, ts: message.ts });
      }
      case "chat.appendStream":
      case "chat.stopStream": {
        const message = this.messages.find((candidate) => candidate.channel === channel && candidate.ts === args.ts);
        if (message === undefined || message.streaming !== "open") return { ok: false, error: "message_not_in_streaming_state" };
        message.chunks.push(...streamChunks(args));
        if (method === "chat.stopStream") {
          message.streaming = "stopped";
          message.blocks = asArray(args.blocks);
        }
        return ok({ channel, ts: message.ts });
      }
      case "assistant.threads.setStatus":
      case "assistant.threads.setSuggestedPrompts":
      case "assistant.threads.setTitle":
      case "reactions.add":
      case "reactions.remove":
        return ok();
      case "conversations.replies":
        return ok({ messages: this.thread(channel, String(args.ts ?? "")).map((message) => ({ ts: message.ts, thread_ts: message.threadTs, text: message.text, user: this.#options.botUserId, bot_id: "B0BOT" })), has_more: false });
      case "files.getUploadURLExternal": {
        const id = `F${(++this.#sequence).toString().padStart(8, "0")}`;
        this.uploads.set(id, { id, name: String(args.filename), data: Buffer.alloc(0), channel: undefined, threadTs: undefined });
        return ok({ upload_url: `${this.#origin}/upload/${id}`, file_id: id });
      }
      case "files.completeUploadExternal": {
        const files = asArray(args.files) as { id?: string }[];
        for (const file of files) {
          const upload = this.uploads.get(String(file.id));
          if (upload === undefined) return { ok: false, error: "file_not_found" };
          upload.channel = String(args.channel_id ?? "");
          upload.threadTs = typeof args.thread_ts === "string" ? args.thread_ts : undefined;
        }
        return ok({ files: files.map((file) => ({ id: file.id })) });
      }
      default:
        return undefined;
    }
  }

  #newMessage(channel: string, args: Record<string, unknown>): SlackMessage {
    const message: SlackMessage = {
      channel, ts: this.nextTs(), threadTs: typeof args.thread_ts === "string" ? args.thread_ts : undefined,
      text: String(args.text ?? args.markdown_text ?? ""), blocks: asArray(args.blocks), chunks: [], streaming: "no",
    };
    this.messages.push(message);
    return message;
  }

  #download(request: IncomingMessage, response: ServerResponse, url: URL): void {
    const id = url.pathname.split("/")[2] ?? "";
    const file = this.#files.get(id);
    this.downloads.push(id);
    const authorised = request.headers.authorization === `Bearer ${this.#options.botToken}`;
    if (file === undefined || !authorised || !this.filesReadScope) {
      if (file === undefined) this.faults.push(`download of an unknown file ${id}`);
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<!DOCTYPE html><html><body>Sign in to Slack</body></html>");
      return;
    }
    response.writeHead(200, { "content-type": file.type, "content-length": file.data.length }).end(file.data);
  }

  async #receiveUpload(request: IncomingMessage, response: ServerResponse, url: URL, body: Buffer): Promise<void> {
    const id = url.pathname.split("/")[2] ?? "";
    const upload = this.uploads.get(id);
    if (upload === undefined || request.method !== "POST") return this.#fault(response, `upload to an unknown URL ${url.pathname}`);
    const form = await new Response(new Uint8Array(body), { headers: { "content-type": request.headers["content-type"] ?? "" } }).formData();
    const part = [...form.values()].find((value) => typeof value !== "string");
    upload.data = part === undefined ? Buffer.alloc(0) : Buffer.from(await (part as Blob).arrayBuffer());
    response.writeHead(200, { "content-type": "text/plain" }).end(`OK - ${upload.data.length}`);
  }

  #fault(response: ServerResponse, what: string): void {
    this.faults.push(what);
    sendJson(response, { ok: false, error: "unknown_method" }, 404);
  }
}

/**
 * What Slack refuses in a message, as `invalid_blocks` / `msg_too_long`: more
 * than 50 blocks, text over 40,000, a stream chunk of markdown over 12,000,
 * and what its block reference limits (slack-block-rules.ts). Null when the call is
 * within them.
 */
function blockLimitsBroken(method: string, args: Record<string, unknown>): string | null {
  if (!["chat.postMessage", "chat.update", "chat.postEphemeral", "chat.startStream", "chat.appendStream", "chat.stopStream"].includes(method)) return null;
  const broken = blocksBroken(asArray(args.blocks));
  if (broken !== null) return broken;
  if (String(args.text ?? "").length > 40_000) return `text of ${String(args.text).length} characters, over Slack's 40,000`;
  for (const chunk of streamChunks(args) as { type?: string; text?: string }[]) {
    if (chunk.type === "markdown_text" && String(chunk.text ?? "").length > 12_000) return `a markdown chunk of ${String(chunk.text).length} characters, over Slack's 12,000`;
  }
  return null;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function parseForm(body: Buffer, contentType: string): Record<string, unknown> {
  const text = body.toString("utf8");
  const fields: Record<string, unknown> = {};
  const entries = contentType.includes("json") ? Object.entries(JSON.parse(text || "{}") as Record<string, unknown>) : [...new URLSearchParams(text).entries()];
  for (const [name, value] of entries) {
    if (typeof value === "string" && /^[[{]/.test(value)) {
      try {
        fields[name] = JSON.parse(value);
        continue;
      } catch {
        // Plain text that starts with a bracket.
      }
    }
    fields[name] = value;
  }
  return fields;
}

function streamChunks(args: Record<string, unknown>): Record<string, unknown>[] {
  const chunks = asArray(args.chunks) as Record<string, unknown>[];
  return typeof args.markdown_text === "string" && args.markdown_text !== "" ? [{ type: "markdown_text", text: args.markdown_text }, ...chunks] : chunks;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function sendJson(response: ServerResponse, body: object, status = 200): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
}
