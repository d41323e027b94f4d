/** A real pino logger whose lines are kept in memory, for tests that check what reaches the log. */
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";

export interface CapturedLog {
  logger: Logger;
  /** Every line written so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Bytes written so far. */
  bytes(): number;
}

export function captureLogger(): CapturedLog {
  const chunks: string[] = [];
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  return {
    logger: pino({ level: "debug" }, sink),
    lines: () => chunks.join("").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>),
    bytes: () => bytes,
  };
}
