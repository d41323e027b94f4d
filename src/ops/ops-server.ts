/**
 * The operator's HTTP endpoint on THREADBOOK_METRICS_PORT: `/healthz` (200
 * while the process serves), `/readyz` (200, or 503 with a JSON body naming
 * what is not ready) and `/metrics` (Prometheus text). GET and HEAD only; it
 * reads no request body. Bound to THREADBOOK_METRICS_HOST, loopback by default.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import type { Metrics } from "./metrics.ts";
import { checkReadiness, type ReadinessCheck } from "./readiness.ts";

export interface OpsServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  metrics: Metrics;
  readiness: readonly ReadinessCheck[];
  logger: Logger;
}

export interface OpsServer {
  /** The port it listens on (the one the system chose for 0). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((request, response) => {
    respond(request, response, options).catch((error: unknown) => {
      options.logger.error({ err: error, path: request.url }, "the metrics endpoint failed");
      if (!response.headersSent) send(response, 500, "text/plain; charset=utf-8", "internal error\n");
      else response.destroy();
    });
  });
  // A scraper that opens a connection and sends nothing must not hold it for ever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  await listen(server, options.port, options.host);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function respond(request: IncomingMessage, response: ServerResponse, options: OpsServerOptions): Promise<void> {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.setHeader("allow", "GET, HEAD");
    return send(response, 405, "text/plain; charset=utf-8", "method not allowed\n");
  }
  switch (path) {
    case "/healthz":
      return send(response, 200, "text/plain; charset=utf-8", "ok\n");
    case "/readyz": {
      const report = await checkReadiness(options.readiness);
      return send(response, report.ready ? 200 : 503, "application/json", `${JSON.stringify(report)}\n`);
    }
    case "/metrics":
      return send(response, 200, options.metrics.contentType, await options.metrics.text());
    default:
      return send(response, 404, "text/plain; charset=utf-8", "not found: the paths are /healthz, /readyz and /metrics\n");
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  response.end(response.req.method === "HEAD" ? undefined : body);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
