import { AsyncLocalStorage } from "node:async_hooks";
import { pino, type Logger } from "pino";

export type { Logger };

/** Keys whose values never reach a log line, wherever they sit in an object. */
const redactedPaths = [
  "apiKey", "*.apiKey", "token", "*.token", "botToken", "*.botToken", "appToken", "*.appToken",
  "signingSecret", "*.signingSecret", "authorization", "*.authorization", "headers.authorization",
  "*.headers.authorization", "OPENAI_API_KEY", "*.OPENAI_API_KEY",
];

/**
 * What every line logged within a turn carries (its conversation, and its
 * turn once recorded), whichever layer logs it: the sandbox and the model
 * client log through their own loggers, which know no turn.
 */
const turnContext = new AsyncLocalStorage<Record<string, string>>();

/** Runs `work` with `fields` on every line logged within it, also from work it starts. */
export function withLogContext<T>(fields: Record<string, string>, work: () => T): T {
  return turnContext.run({ ...fields }, work);
}

/** Adds fields to the lines logged from now on within the current `withLogContext`; nothing outside one. */
export function addLogContext(fields: Record<string, string>): void {
  const context = turnContext.getStore();
  if (context !== undefined) Object.assign(context, fields);
}

/** The turn's fields a line does not carry already (a child logger may have bound them). */
function contextFields(_line: object, _level: number, logger: Logger): Record<string, string> {
  const context = turnContext.getStore();
  if (context === undefined) return {};
  const bound = logger.bindings();
  const missing: Record<string, string> = {};
  for (const [key, value] of Object.entries(context)) if (!(key in bound)) missing[key] = value;
  return missing;
}

export function createLogger(options: { level: string; destination?: number | string }): Logger {
  return pino(
    { level: options.level, base: { service: "threadbook" }, redact: { paths: redactedPaths, censor: "[redacted]" }, mixin: contextFields },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });
