/**
 * One session's door out: an HTTP proxy on a Unix socket that is mounted
 * into the session's container, its only way to the network. It takes
 * plain HTTP requests in absolute form and CONNECT tunnels (TLS passes
 * through, not looked into), checks the host against the grant's policy,
 * resolves the name itself and connects only to an address the policy lets
 * through (never a second lookup by anyone else), counts bytes both ways and
 * enforces the limits. A refusal is an HTTP 403 whose status line and body
 * say why in one line, so the code in the cell (and the model) can read it.
 *
 * Everything that arrives here comes from the sandbox: untrusted, bounded.
 */
import { lookup } from "node:dns/promises";
import { chmodSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../log.ts";
import type { EgressGrant, EgressRequest } from "./egress-grant.ts";
import { addressAllowed, hostAllowed } from "./egress-policy.ts";
import { PACKAGE_CACHE_HOST, PackageCacheRefusal, type PackageCache } from "./package-cache.ts";

/** Connections at once through one door. */
const maxConnections = 32;
const lookupTimeoutMs = 10_000;
const connectTimeoutMs = 15_000;
/** Request headers the door does not pass on: its own, and the hop-by-hop ones. */
const hopHeaders = new Set(["proxy-connection", "proxy-authorization", "connection", "keep-alive", "te", "trailer", "upgrade", "transfer-encoding"]);

class Refusal extends Error {}

export class EgressDoor {
  readonly socketPath: string;
  #grant: EgressGrant | undefined;
  #turnBytes = 0;
  #recent: number[] = [];
  readonly #server: Server;
  readonly #logger: Logger;
  readonly #open = new Set<Duplex>();
  readonly #cache: PackageCache | undefined;

  /** `cache`: pip's index as the sessions see it at http://pip.threadbook.internal/simple/ (package-cache.ts). */
  constructor(socketPath: string, logger: Logger, cache?: PackageCache) {
    this.socketPath = socketPath;
    this.#logger = logger;
    this.#cache = cache;
    this.#server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 60_000, headersTimeout: 30_000 }, (request, response) => void this.#forward(request, response));
    this.#server.maxConnections = maxConnections;
    this.#server.on("connect", (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.#tunnel(request, socket, head));
    this.#server.on("connection", (socket: Socket) => {
      this.#open.add(socket);
      socket.on("close", () => this.#open.delete(socket));
    });
    this.#server.on("clientError", (_error, socket: Duplex) => socket.destroy());
  }

  /** Listens on the socket path (a stale socket there is replaced); anyone in the container may connect. */
  async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.socketPath, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    // The container's forwarder runs under its own user id: the socket must take its connection.
    chmodSync(this.socketPath, 0o666);
  }

  /** The turn now holding the session: its policy, limits and audit; the turn's byte count starts at 0. */
  grant(grant: EgressGrant | undefined): void {
    this.#grant = grant;
    this.#turnBytes = 0;
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  // -- checks -------------------------------------------------------------

  /** The grant, when the limits let one more request through; else a Refusal saying why not. */
  #admitLimits(): EgressGrant {
    const grant = this.#grant;
    if (grant === undefined) throw new Refusal("no conversation holds this session, so nothing may go out");
    const now = Date.now();
    this.#recent = this.#recent.filter((at) => at > now - 60_000);
    if (this.#recent.length >= grant.limits.requestsPerMinute) {
      throw new Refusal(`over ${grant.limits.requestsPerMinute} requests a minute (THREADBOOK_EGRESS_REQUESTS_PER_MINUTE); wait and try fewer`);
    }
    this.#recent.push(now);
    if (this.#turnBytes >= grant.limits.turnBytes) throw new Refusal(`this turn used its ${grant.limits.turnBytes} bytes through the door (THREADBOOK_EGRESS_TURN_MB)`);
    return grant;
  }

  /** The grant and an address to connect to, or a Refusal saying why not. */
  async #admit(host: string, port: number): Promise<{ grant: EgressGrant; address: string }> {
    const grant = this.#admitLimits();
    if (!hostAllowed(grant.policy, host, port)) throw new Refusal(`${host}:${port} is not on the allow-list (THREADBOOK_EGRESS_ALLOW)`);
    let addresses: string[];
    if (isIP(host) !== 0) {
      addresses = [host];
    } else {
      const found = await Promise.race([
        lookup(host, { all: true, verbatim: true }).then((results) => results.map((result) => result.address), () => []),
        new Promise<string[]>((resolve) => setTimeout(() => resolve([]), lookupTimeoutMs).unref()),
      ]);
      if (found.length === 0) throw new Refusal(`${host} does not resolve`);
      addresses = found;
    }
    const address = addresses.find((candidate) => addressAllowed(grant.policy, candidate, port));
    if (address === undefined) throw new Refusal(`${host} resolves to ${addresses[0]}, a loopback, private, link-local or reserved address the allow-list does not name`);
    return { grant, address };
  }

  /**
   * Admits a request to `host`:`port` (#admit), noting on its audit entry
   * where it goes and whether it was allowed; a refusal is answered with
   * `refuse` and gives null.
   */
  async #admitRequest(entry: EgressRequest, host: string, port: number, refuse: (reason: string) => void): Promise<{ grant: EgressGrant; address: string } | null> {
    entry.host = host;
    entry.port = port;
    try {
      const admitted = await this.#admit(host, port);
      entry.address = admitted.address;
      entry.allowed = true;
      return admitted;
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      entry.reason = error.message;
      refuse(error.message);
      return null;
    }
  }

  /** Counts bytes against the turn; false once the turn's allowance is spent. */
  #spend(grant: EgressGrant, bytes: number): boolean {
    this.#turnBytes += bytes;
    return this.#grant !== grant || this.#turnBytes <= grant.limits.turnBytes;
  }

  #record(grant: EgressGrant | undefined, request: EgressRequest): void {
    if (grant === undefined) return this.#logger.info({ host: request.host, port: request.port, reason: request.reason }, "egress refused with no conversation");
    try {
      grant.record(request);
    } catch (error) {
      this.#logger.error({ err: error }, "recording an egress request failed");
    }
  }

  // -- HTTP requests ------------------------------------------------------

  async #forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    const method = (request.method ?? "GET").slice(0, 16);
    let target: URL | undefined;
    try {
      target = new URL(request.url ?? "");
    } catch {
      target = undefined;
    }
    const entry: EgressRequest = { method, host: "", port: 0, address: null, allowed: false, reason: null, bytesOut: 0, bytesIn: 0, startedAt, durationMs: 0 };
    const finish = (grant: EgressGrant | undefined) => this.#record(grant, { ...entry, durationMs: Date.now() - startedAt });
    if (target === undefined || target.protocol !== "http:") {
      entry.reason = "only http:// URLs in absolute form, and CONNECT for https, go through the door";
      refuse(response, entry.reason);
      return finish(this.#grant);
    }
    if (this.#cache !== undefined && target.hostname === PACKAGE_CACHE_HOST) return this.#fromCache(this.#cache, request, response, target, entry, finish);
    const admitted = await this.#admitRequest(entry, hostOf(target.hostname), Number(target.port || 80), (reason) => refuse(response, reason));
    if (admitted === null) return finish(this.#grant);
    const { grant, address } = admitted;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !hopHeaders.has(name)) headers[name] = value;
    }
    headers.connection = "close";
    // The host checked is the host asked: a Host header naming another (fronting a second site on the same address) is replaced.
    headers.host = target.host;
    let done = false;
    const end = (reason: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (reason !== null) entry.reason = reason;
      finish(grant);
    };
    const upstream = httpRequest({ host: address, port: entry.port, method, path: `${target.pathname}${target.search}`, headers, setHost: false, agent: false, timeout: connectTimeoutMs });
    const cut = (reason: string, status = 502) => {
      upstream.destroy();
      if (!response.headersSent) refuse(response, reason, status);
      else response.destroy();
      end(reason);
    };
    const timer = setTimeout(() => cut(`cut: the connection passed ${grant.limits.connectionMs / 1000} s (THREADBOOK_EGRESS_CONNECTION_S)`), grant.limits.connectionMs);
    upstream.on("timeout", () => cut(`${entry.host}:${entry.port} did not answer`));
    upstream.on("error", (error: NodeJS.ErrnoException) => cut(`${entry.host}:${entry.port} failed: ${error.code ?? error.message}`.slice(0, 200)));
    request.on("data", (chunk: Buffer) => {
      entry.bytesOut += chunk.length;
      if (!this.#spend(grant, chunk.length)) cut(`cut: this turn used its ${grant.limits.turnBytes} bytes through the door (THREADBOOK_EGRESS_TURN_MB)`);
    });
    request.pipe(upstream);
    upstream.on("response", (reply) => {
      const length = Number(reply.headers["content-length"]);
      const left = grant.limits.turnBytes - this.#turnBytes;
      if (Number.isFinite(length) && length > left) {
        reply.destroy();
        return cut(`the response of ${length} bytes is over the ${Math.max(0, left)} bytes left of this turn's allowance (THREADBOOK_EGRESS_TURN_MB)`, 403);
      }
      const replyHeaders: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(reply.headers)) {
        if (value !== undefined && !hopHeaders.has(name)) replyHeaders[name] = value;
      }
      response.writeHead(reply.statusCode ?? 502, reply.statusMessage, replyHeaders);
      reply.on("data", (chunk: Buffer) => {
        entry.bytesIn += chunk.length;
        if (!this.#spend(grant, chunk.length)) cut(`cut: this turn used its ${grant.limits.turnBytes} bytes through the door (THREADBOOK_EGRESS_TURN_MB)`);
      });
      reply.pipe(response);
      reply.on("end", () => end(null));
      reply.on("error", () => cut(`${entry.host}:${entry.port} broke off`));
    });
    response.on("close", () => {
      if (!done) {
        upstream.destroy();
        end("the session closed the connection");
      }
    });
  }

  // -- pip's index, from the bot's cache ------------------------------------

  async #fromCache(cache: PackageCache, request: IncomingMessage, response: ServerResponse, target: URL, entry: EgressRequest, finish: (grant: EgressGrant | undefined) => void): Promise<void> {
    request.resume();
    entry.host = hostOf(cache.indexUrl.hostname);
    entry.port = Number(cache.indexUrl.port || (cache.indexUrl.protocol === "https:" ? 443 : 80));
    let grant: EgressGrant | undefined;
    try {
      grant = this.#admitLimits();
      if (!hostAllowed(grant.policy, entry.host, entry.port)) throw new Refusal(`the package index ${entry.host}:${entry.port} is not on the allow-list (THREADBOOK_EGRESS_ALLOW)`);
      const page = /^\/simple\/([^/]+)\/?$/.exec(target.pathname)?.[1];
      const file = /^\/files\/([0-9a-f]{64})\/[^/]+$/.exec(target.pathname)?.[1];
      if (target.pathname === "/simple/" || target.pathname === "/simple") throw new Refusal("the package cache lists no index of all projects; ask for one project");
      if (page !== undefined) {
        const { html, cached, upstreamBytes } = await cache.page(decodeURIComponent(page), grant.policy);
        const body = Buffer.from(html);
        entry.allowed = true;
        entry.address = cached ? "cache" : entry.host;
        entry.reason = cached ? "from the package cache" : null;
        entry.bytesIn = body.length;
        this.#spend(grant, upstreamBytes > 0 ? upstreamBytes : body.length);
        response.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": String(body.length) });
        response.end(body);
        return finish(grant);
      }
      if (file === undefined) throw new Refusal("the package cache serves /simple/<project>/ and the files its pages list");
      const found = await cache.file(file, grant.policy, grant.limits.turnBytes - this.#turnBytes);
      const held = grant;
      entry.allowed = true;
      entry.address = found.cached ? "cache" : entry.host;
      entry.reason = found.cached ? "from the package cache" : null;
      response.writeHead(200, { "content-type": "application/octet-stream", ...(found.bytes === null ? {} : { "content-length": String(found.bytes) }) });
      let done = false;
      const end = (reason: string | null) => {
        if (done) return;
        done = true;
        if (reason !== null) entry.reason = reason;
        finish(held);
      };
      found.stream.on("data", (chunk: Buffer) => {
        entry.bytesIn += chunk.length;
        if (!this.#spend(held, chunk.length)) {
          found.stream.destroy();
          response.destroy();
          end(`cut: this turn used its ${held.limits.turnBytes} bytes through the door (THREADBOOK_EGRESS_TURN_MB)`);
        }
      });
      found.stream.on("error", () => {
        response.destroy();
        end("the package file could not be read");
      });
      found.stream.pipe(response);
      found.stream.on("end", () => end(null));
      response.on("close", () => {
        found.stream.destroy();
        end("the session closed the connection");
      });
    } catch (error) {
      if (!(error instanceof Refusal) && !(error instanceof PackageCacheRefusal)) throw error;
      entry.allowed = false;
      entry.reason = error.message;
      refuse(response, error.message);
      finish(grant ?? this.#grant);
    }
  }

  // -- CONNECT tunnels ----------------------------------------------------

  async #tunnel(request: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const startedAt = Date.now();
    const entry: EgressRequest = { method: "CONNECT", host: "", port: 0, address: null, allowed: false, reason: null, bytesOut: 0, bytesIn: 0, startedAt, durationMs: 0 };
    const finish = (grant: EgressGrant | undefined) => this.#record(grant, { ...entry, durationMs: Date.now() - startedAt });
    client.on("error", () => undefined);
    const target = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(request.url ?? "");
    if (target === null) {
      entry.reason = "CONNECT takes host:port";
      refuseTunnel(client, entry.reason);
      return finish(this.#grant);
    }
    const admitted = await this.#admitRequest(entry, hostOf(target[1] as string), Number(target[2]), (reason) => refuseTunnel(client, reason));
    if (admitted === null) return finish(this.#grant);
    const { grant, address } = admitted;
    const upstream = connect({ host: address, port: entry.port, timeout: connectTimeoutMs });
    let done = false;
    const end = (reason: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      upstream.destroy();
      client.destroy();
      if (reason !== null) entry.reason = reason;
      finish(grant);
    };
    const timer = setTimeout(() => end(`cut: the connection passed ${grant.limits.connectionMs / 1000} s (THREADBOOK_EGRESS_CONNECTION_S)`), grant.limits.connectionMs);
    const overBudget = `cut: this turn used its ${grant.limits.turnBytes} bytes through the door (THREADBOOK_EGRESS_TURN_MB)`;
    upstream.once("timeout", () => {
      if (!upstream.readyState.startsWith("open")) {
        refuseTunnel(client, `${entry.host}:${entry.port} did not answer`, 502);
        end(`${entry.host}:${entry.port} did not answer`);
      }
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      const reason = `${entry.host}:${entry.port} failed: ${error.code ?? error.message}`.slice(0, 200);
      if (entry.bytesIn === 0 && entry.bytesOut === 0) refuseTunnel(client, reason, 502);
      end(reason);
    });
    upstream.on("connect", () => {
      upstream.setTimeout(0);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) {
        entry.bytesOut += head.length;
        this.#spend(grant, head.length);
        upstream.write(head);
      }
      client.on("data", (chunk: Buffer) => {
        entry.bytesOut += chunk.length;
        if (!this.#spend(grant, chunk.length)) return end(overBudget);
        if (!upstream.write(chunk)) client.pause();
      });
      upstream.on("drain", () => client.resume());
      upstream.on("data", (chunk: Buffer) => {
        entry.bytesIn += chunk.length;
        if (!this.#spend(grant, chunk.length)) return end(overBudget);
        if (!client.write(chunk)) upstream.pause();
      });
      client.on("drain", () => upstream.resume());
      upstream.on("end", () => client.end());
      client.on("end", () => upstream.end());
    });
    upstream.on("close", () => end(null));
    client.on("close", () => end(null));
  }
}

/** The host as recorded and checked: lower case, no IPv6 brackets, bounded. */
function hostOf(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, "").toLowerCase().slice(0, 255);
}

/** A status line may hold no line breaks; the reason is one line anyway. */
function oneLine(reason: string): string {
  return reason.replace(/[^\x20-\x7e]/g, "?").slice(0, 300);
}

function refuse(response: ServerResponse, reason: string, status = 403): void {
  if (response.headersSent) return void response.destroy();
  const line = oneLine(`threadbook egress: ${reason}`);
  response.writeHead(status, line, { "content-type": "text/plain; charset=utf-8", connection: "close" });
  response.end(`${line}\n`);
}

function refuseTunnel(client: Duplex, reason: string, status = 403): void {
  const line = oneLine(`threadbook egress: ${reason}`);
  client.end(`HTTP/1.1 ${status} ${line}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${line.length + 1}\r\nconnection: close\r\n\r\n${line}\n`);
}
