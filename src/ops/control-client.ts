/**
 * `threadbook sessions`' side of the control socket: one request to the
 * running bot, its reply checked against the protocol. A missing socket, or
 * one nobody answers on, means no bot runs with this data directory.
 */
import { request } from "node:http";
import type { z } from "zod";
import { ThreadbookError } from "../errors.ts";
import { controlSocketPath, errorReply, resetReply, sessionsReply, stopReply } from "./control-protocol.ts";

/** A reset waits for the conversation's running turn to unwind; a stuck bot must not hang the command for ever. */
const replyDeadlineMs = 120_000;
/** The most of a reply read: a listing of thousands of sessions fits. */
const maxReplyBytes = 16 * 1024 * 1024;

export class ControlClient {
  readonly #path: string;

  constructor(dataDir: string) {
    this.#path = controlSocketPath(dataDir);
  }

  async sessions(): Promise<z.infer<typeof sessionsReply>["sessions"]> {
    return (await this.#call("GET", "/sessions", undefined, sessionsReply)).sessions;
  }

  stop(conversation: string): Promise<z.infer<typeof stopReply>> {
    return this.#call("POST", "/sessions/stop", { conversation }, stopReply);
  }

  reset(conversation: string): Promise<z.infer<typeof resetReply>> {
    return this.#call("POST", "/sessions/reset", { conversation }, resetReply);
  }

  #call<T>(method: string, path: string, body: unknown, shape: z.ZodType<T>): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const call = request({ socketPath: this.#path, method, path, headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } }, (response) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > maxReplyBytes) call.destroy(new Error(`the bot's reply is over ${maxReplyBytes} bytes`));
          else chunks.push(chunk);
        });
        response.on("end", () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            return reject(this.#failure("its reply is not JSON"));
          }
          const status = response.statusCode ?? 0;
          if (status >= 400) {
            const refusal = errorReply.safeParse(parsed);
            return reject(new ThreadbookError(status === 404 ? "input_invalid" : "control_unavailable", refusal.success ? refusal.data.error : `The bot refused the request (HTTP ${status}).`));
          }
          const checked = shape.safeParse(parsed);
          if (!checked.success) return reject(this.#failure("its reply is not what this version of threadbook expects"));
          resolve(checked.data);
        });
        response.on("error", (error) => reject(this.#failure(error.message)));
      });
      call.setTimeout(replyDeadlineMs, () => call.destroy(new Error(`no reply within ${replyDeadlineMs / 1000} s`)));
      call.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT" || error.code === "ECONNREFUSED") {
          reject(new ThreadbookError("control_unavailable", `No threadbook bot is running with this data directory (nothing answers on ${this.#path}). Start it with 'threadbook start'.`));
        } else {
          reject(this.#failure(error.message));
        }
      });
      call.end(payload);
    });
  }

  #failure(why: string): ThreadbookError {
    return new ThreadbookError("control_unavailable", `The running bot could not be asked (${this.#path}): ${why}.`);
  }
}
