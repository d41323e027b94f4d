/**
 * The bot's control socket: how `threadbook sessions`, run in another
 * process on the same machine, lists the live sessions and stops or resets
 * one through the core's SessionAdmin (the same agent calls the chat's stop
 * and reset make). A Unix socket in the data directory, owner-only (the
 * directory is 0700 and the socket 0600): whoever may read the database may
 * use it, nobody else. The protocol is in control-protocol.ts.
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { createConnection } from "node:net";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { SessionAdmin } from "../core/session-admin.ts";
import type { Logger } from "../log.ts";
import { conversationRequest, controlSocketPath, maxControlBodyBytes } from "./control-protocol.ts";

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Unix socket paths are limited to 107 bytes on Linux. */
const maxSocketPathBytes = 107;

/**
 * Listens on `<dataDir>/control.sock`. Null, with a warning logged, when the
 * path is too long for a socket or another running bot answers there.
 */
export async function startControlServer(dataDir: string, admin: SessionAdmin, logger: Logger): Promise<ControlServer | null> {
  const path = controlSocketPath(dataDir);
  if (Buffer.byteLength(path) > maxSocketPathBytes) {
    logger.warn({ path }, "no control socket: its path is too long for a Unix socket (shorten THREADBOOK_DATA_DIR); 'threadbook sessions' cannot reach this bot");
    return null;
  }
  if (existsSync(path)) {
    if (await answers(path)) {
      logger.warn({ path }, "no control socket: another threadbook answers on it (two bots share THREADBOOK_DATA_DIR?)");
      return null;
    }
    // Left by a bot that did not close: nobody listens.
    unlinkSync(path);
  }
  const server = createServer((request, response) => {
    respond(request, response, admin).catch((error: unknown) => {
      logger.error({ err: error, path: request.url }, "a control request failed");
      if (!response.headersSent) reply(response, 500, { error: "The request failed inside threadbook; the details are in its log." });
    });
  });
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  logger.info({ path }, "control socket listening");
  return {
    path,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function respond(request: IncomingMessage, response: ServerResponse, admin: SessionAdmin): Promise<void> {
  const route = `${request.method ?? ""} ${new URL(request.url ?? "/", "http://control").pathname}`;
  if (route === "GET /sessions") return reply(response, 200, { sessions: await admin.list() });
  if (route !== "POST /sessions/stop" && route !== "POST /sessions/reset") return reply(response, 404, { error: `No such request: ${route}.` });
  const body = await readBody(request);
  if (body === null) return reply(response, 413, { error: `The request is over ${maxControlBodyBytes} bytes.` });
  let parsed;
  try {
    parsed = conversationRequest.safeParse(JSON.parse(body));
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !parsed.success) return reply(response, 400, { error: 'The body must be {"conversation": "<key>"}.' });
  const { conversation } = parsed.data;
  const unknown = { error: `No conversation ${JSON.stringify(conversation)} is known; 'threadbook sessions' lists the live ones.` };
  if (route === "POST /sessions/stop") {
    const outcome = await admin.stop(conversation);
    return outcome === null ? reply(response, 404, unknown) : reply(response, 200, { conversation, stopped: outcome.stopped });
  }
  return (await admin.reset(conversation)) ? reply(response, 200, { conversation, reset: true }) : reply(response, 404, unknown);
}

/** The body as text, or null once it passes the bound (the rest is not read). */
async function readBody(request: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxControlBodyBytes) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(`${JSON.stringify(body)}\n`);
}

/** Whether something listens on the socket now. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (listening: boolean) => {
      socket.destroy();
      resolve(listening);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(2_000, () => done(false));
  });
}
