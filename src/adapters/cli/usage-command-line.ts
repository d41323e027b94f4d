/** `threadbook usage [--since 7d] [--by user|workspace|conversation|day] [--json]`, parsed before anything starts. */
import type { UsageGrouping } from "../../store/store.ts";
import type { OptionSpec } from "./command-line.ts";
import { usageHelp } from "./help-text.ts";
import { UsageError } from "./usage-error.ts";

export interface UsageOptions {
  /** How far back, in milliseconds. */
  sinceMs: number;
  /** As given, e.g. "7d", for the heading. */
  since: string;
  by: UsageGrouping;
  json: boolean;
}

type Parse = (argv: string[], options: OptionSpec) => { values: Record<string, unknown>; positionals: string[] };

const groupings: readonly UsageGrouping[] = ["user", "workspace", "conversation", "day"];
const unitMs: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const longestMs = 3650 * 86_400_000;

export function parseUsage(argv: string[], parse: Parse): { command: "help"; text: string } | { command: "usage"; options: UsageOptions } {
  const { values, positionals } = parse(argv, {
    since: { type: "string", short: "s" },
    by: { type: "string", short: "b" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help === true) return { command: "help", text: usageHelp };
  if (positionals.length > 0) throw new UsageError(`'usage' takes options only (got ${JSON.stringify(positionals[0])}).`, "usage");
  const since = typeof values.since === "string" ? values.since.trim() : "7d";
  const match = /^(\d{1,6})([mhdw])$/.exec(since);
  const sinceMs = match === null ? NaN : Number(match[1]) * (unitMs[match[2] as string] ?? NaN);
  if (!(sinceMs > 0 && sinceMs <= longestMs)) throw new UsageError(`--since takes a span such as 30m, 24h, 7d or 4w, at most ten years (got ${JSON.stringify(since)}).`, "usage");
  const by = typeof values.by === "string" ? values.by.trim() : "day";
  if (!(groupings as readonly string[]).includes(by)) throw new UsageError(`--by takes one of ${groupings.join(", ")} (got ${JSON.stringify(by)}).`, "usage");
  return { command: "usage", options: { sinceMs, since, by: by as UsageGrouping, json: values.json === true } };
}
