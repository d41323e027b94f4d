/**
 * One line of `threadbook chat --jsonl`: a request (plain text, or JSON
 * {"text", "files"}) or a control ({"command": "stop" | "reset" | "status"}).
 * Throws UsageError for a line that is neither; a control line that names no
 * known command is `invalid-control`, answered at once as controls are.
 */
import { UsageError } from "./usage-error.ts";

export const lineCommands = ["stop", "reset", "status"] as const;

export type LineCommand = (typeof lineCommands)[number];

export type ChatLine =
  | { kind: "request"; text: string; files: string[] }
  | { kind: "control"; command: LineCommand }
  | { kind: "invalid-control"; command: unknown; problem: string };

export function parseChatLine(line: string): ChatLine {
  const trimmed = line.trim();
  if (!trimmed.startsWith("{")) return { kind: "request", text: trimmed, files: [] };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    throw new UsageError(`not valid JSON (${error instanceof Error ? error.message : String(error)}).`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError("expected a JSON object {\"text\": \"...\", \"files\": [...]}.");
  if ("command" in value) return parseControl(value as Record<string, unknown>);
  const { text = "", files = [] } = value as { text?: unknown; files?: unknown };
  if (typeof text !== "string") throw new UsageError("\"text\" must be a string.");
  if (!Array.isArray(files) || files.some((file) => typeof file !== "string")) throw new UsageError("\"files\" must be a list of paths.");
  if (text.trim() === "" && files.length === 0) throw new UsageError("the request has no text and no files.");
  return { kind: "request", text: text.trim(), files: files as string[] };
}

function parseControl(value: Record<string, unknown>): ChatLine {
  const { command } = value;
  const known = lineCommands.find((name) => name === command);
  if (known === undefined) return { kind: "invalid-control", command, problem: `unknown command ${JSON.stringify(command)}; the commands are ${lineCommands.join(", ")}.` };
  const others = Object.keys(value).filter((key) => key !== "command");
  if (others.length > 0) return { kind: "invalid-control", command, problem: `a command line holds only "command" (got ${JSON.stringify(others[0])} too).` };
  return { kind: "control", command: known };
}
