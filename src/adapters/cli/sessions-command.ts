/**
 * `threadbook sessions`: asks the running bot through its control socket
 * (src/ops/control-client.ts) for its live sessions, or to stop or reset
 * one. Needs only the data directory: no Docker, no database, no model here.
 */
import type { Config } from "../../config.ts";
import { formatBytes, formatDuration } from "../../core/format-size.ts";
import { ControlClient } from "../../ops/control-client.ts";
import type { SessionsOptions } from "./ops-command-line.ts";
import { inertJson, inertLine } from "./terminal-safe.ts";

export async function runSessionsCommand(options: SessionsOptions, config: Config, writeOut: (text: string) => Promise<void>): Promise<void> {
  const client = new ControlClient(config.dataDir);
  switch (options.action) {
    case "list": {
      const sessions = await client.sessions();
      if (options.json) return writeOut(sessions.map((session) => `${inertJson(session)}\n`).join(""));
      if (sessions.length === 0) return writeOut("No live sessions.\n");
      const rows = sessions.map((session) => [
        inertLine(session.conversation ?? "(none)"),
        inertLine(session.host),
        memory(session.memoryBytes, session.memoryLimitBytes),
        session.running ? "running" : session.idleMs === null ? "-" : formatDuration(session.idleMs),
        session.sessionId.slice(0, 12),
      ]);
      const header = ["CONVERSATION", "HOST", "MEMORY", "IDLE", "SESSION"];
      const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
      const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] as number)).join("  ").trimEnd();
      return writeOut(`${[header, ...rows].map(line).join("\n")}\n`);
    }
    case "stop": {
      const { stopped } = await client.stop(options.conversation);
      return writeOut(`${stopped ? "Stopped its running turn and ended" : "Ended"} the session of ${inertLine(options.conversation)}; its next question starts a new one.\n`);
    }
    case "reset":
      await client.reset(options.conversation);
      return writeOut(`Reset ${inertLine(options.conversation)}: its session, messages and files are gone.\n`);
  }
}

function memory(used: number | null, limit: number | null): string {
  if (used === null) return "-";
  return limit === null ? formatBytes(used) : `${formatBytes(used)} / ${formatBytes(limit)}`;
}
