/**
 * Bolt's and the SDKs' log lines into threadbook's log. Their debug lines
 * carry request bodies, so they are dropped: nothing they say reaches the log
 * unless it is a warning or an error.
 */
import { LogLevel, type Logger as SlackLogger } from "@slack/bolt";
import type { Logger } from "../../log.ts";

export function boltLogger(logger: Logger): SlackLogger {
  const line = (parts: unknown[]) => parts.map((part) => (part instanceof Error ? part.message : String(part))).join(" ").slice(0, 2_000);
  return {
    debug: () => undefined,
    info: (...parts: unknown[]) => logger.debug({ sdk: "slack" }, line(parts)),
    warn: (...parts: unknown[]) => logger.warn({ sdk: "slack" }, line(parts)),
    error: (...parts: unknown[]) => logger.error({ sdk: "slack" }, line(parts)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
