/**
 * The control socket's protocol, shared by the bot's server and the
 * `threadbook sessions` client: HTTP/1.1 over a Unix socket in the data
 * directory, JSON both ways.
 *
 *   GET  /sessions                               → {"sessions": [SessionView, …]}
 *   POST /sessions/stop   {"conversation": KEY}   → {"conversation": KEY, "stopped": bool}   404 when KEY is unknown
 *   POST /sessions/reset  {"conversation": KEY}   → {"conversation": KEY, "reset": true}     404 when KEY is unknown
 *
 * An error is {"error": "plain words"} with a 4xx or 5xx status.
 */
import { join } from "node:path";
import { z } from "zod";

export const controlSocketName = "control.sock";

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, controlSocketName);
}

/** A request body larger than this is refused: a conversation key is short. */
export const maxControlBodyBytes = 4096;

export const conversationRequest = z.strictObject({ conversation: z.string().min(1).max(1000) });

export const sessionView = z.object({
  conversation: z.string().nullable(),
  sessionId: z.string(),
  host: z.string(),
  memoryBytes: z.number().nullable(),
  memoryLimitBytes: z.number().nullable(),
  running: z.boolean(),
  idleMs: z.number().nullable(),
});

export const sessionsReply = z.object({ sessions: z.array(sessionView) });
export const stopReply = z.object({ conversation: z.string(), stopped: z.boolean() });
export const resetReply = z.object({ conversation: z.string(), reset: z.literal(true) });
export const errorReply = z.object({ error: z.string() });
