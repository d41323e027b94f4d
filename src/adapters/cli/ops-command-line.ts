/**
 * `threadbook audit …` and `threadbook sessions …`: the operator's command
 * lines, parsed before anything starts.
 */
import type { OptionSpec } from "./command-line.ts";
import { auditHelp, sessionsHelp } from "./help-text.ts";
import { UsageError } from "./usage-error.ts";

export interface AuditOptions {
  /** Epoch ms; undefined: every run kept. */
  since: number | undefined;
  user: string | undefined;
  conversation: string | undefined;
  json: boolean;
  /** The requests through sessions' doors out instead of the cell runs. */
  egress: boolean;
}

export type SessionsOptions =
  | { action: "list"; json: boolean }
  | { action: "stop" | "reset"; conversation: string };

type Parse = (argv: string[], options: OptionSpec) => { values: Record<string, unknown>; positionals: string[] };
type Help = { command: "help"; text: string };

const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const defaultSince = "24h";

export function parseAudit(argv: string[], parse: Parse, now: number = Date.now()): Help | { command: "audit"; options: AuditOptions } {
  const { values, positionals } = parse(argv, {
    since: { type: "string" },
    user: { type: "string", short: "u" },
    conversation: { type: "string", short: "c" },
    json: { type: "boolean" },
    egress: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) return { command: "help", text: auditHelp };
  if (positionals.length > 0) throw new UsageError(`'audit' takes options only (got ${JSON.stringify(positionals[0])}).`, "audit");
  return {
    command: "audit",
    options: {
      since: sinceTime(typeof values.since === "string" ? values.since : defaultSince, now),
      user: nonEmpty(values.user, "--user"),
      conversation: nonEmpty(values.conversation, "--conversation"),
      json: values.json === true,
      egress: values.egress === true,
    },
  };
}

/** "24h", "30m", "7d", "2w", "90s" before now; "all"; or a date such as 2025-06-01 or 2025-06-01T12:00:00Z. */
function sinceTime(given: string, now: number): number | undefined {
  const text = given.trim();
  if (text === "all") return undefined;
  const relative = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text);
  if (relative !== null) return now - Number(relative[1]) * (units[relative[2] as string] as number);
  const absolute = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isFinite(absolute)) return absolute;
  throw new UsageError(`--since takes a span before now (90s, 30m, 24h, 7d, 2w), a date (2025-06-01, 2025-06-01T12:00:00Z) or all (got ${JSON.stringify(given)}).`, "audit");
}

export function parseSessions(argv: string[], parse: Parse): Help | { command: "sessions"; options: SessionsOptions } {
  const { values, positionals } = parse(argv, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) return { command: "help", text: sessionsHelp };
  const [action, ...rest] = positionals;
  if (action === undefined || action === "list") {
    if (rest.length > 0) throw new UsageError("Usage: threadbook sessions [list] [--json].", "sessions");
    return { command: "sessions", options: { action: "list", json: values.json === true } };
  }
  if (action !== "stop" && action !== "reset") {
    throw new UsageError(`'sessions' takes list, stop KEY or reset KEY (got ${JSON.stringify(action)}).`, "sessions");
  }
  if (values.json === true) throw new UsageError("--json goes with 'sessions list' only.", "sessions");
  const conversation = rest[0]?.trim() ?? "";
  if (rest.length !== 1 || conversation === "") throw new UsageError(`Usage: threadbook sessions ${action} KEY (the conversation, as 'threadbook sessions' lists it).`, "sessions");
  return { command: "sessions", options: { action, conversation } };
}

function nonEmpty(value: unknown, option: string): string | undefined {
  if (typeof value !== "string") return undefined;
  if (value.trim() === "") throw new UsageError(`${option} needs a value.`, "audit");
  return value.trim();
}
