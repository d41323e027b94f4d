import { pino, type Logger } from "pino";

export type { Logger };

/** Keys whose values never reach a log line, wherever they sit in an object. */
const redactedPaths = [
  "apiKey", "*.apiKey", "token", "*.token", "botToken", "*.botToken", "appToken", "*.appToken",
  "signingSecret", "*.signingSecret", "authorization", "*.authorization", "headers.authorization",
  "*.headers.authorization", "OPENAI_API_KEY", "*.OPENAI_API_KEY",
];

export function createLogger(options: { level: string; destination?: number | string }): Logger {
  return pino(
    { level: options.level, base: { service: "threadbook" }, redact: { paths: redactedPaths, censor: "[redacted]" } },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });
