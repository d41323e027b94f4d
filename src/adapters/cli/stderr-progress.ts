/** Progress for a terminal: one short line per event on stderr, so stdout stays the reply alone. */
import { formatBytes, formatDuration } from "../../core/format-size.ts";
import type { Progress, ProgressEvent } from "../../core/turn.ts";

export class StderrProgress implements Progress {
  readonly #write: (line: string) => void;

  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  report(event: ProgressEvent): void {
    const line = describe(event);
    if (line !== null) this.#write(`${line}\n`);
  }
}

function describe(event: ProgressEvent): string | null {
  switch (event.type) {
    case "queued":
      if (event.reason === "capacity") return event.ahead === 0 ? "· every Python session is busy; you are next" : `· every Python session is busy; ${event.ahead} question${event.ahead === 1 ? "" : "s"} ahead of yours`;
      if (event.reason === "cpu") return event.ahead === 0 ? "· every CPU is busy; you are next" : `· every CPU is busy; ${event.ahead} ahead of you`;
      return `· waiting for ${event.ahead} earlier message${event.ahead === 1 ? "" : "s"} in this conversation`;
    case "session":
      if (event.origin === "new") return "· started a Python session";
      if (event.origin === "lost") return "· the earlier Python session was lost (variables and files are gone); started a new one";
      return null;
    case "thinking":
      return event.step === 1 ? "· thinking…" : null;
    case "model-busy":
      return `· the model service is busy; trying again in ${formatDuration(event.retryInMs)}`;
    case "cell-started":
      return `▶ cell ${event.index}: ${codeHeadline(event.code)}`;
    case "cell-finished":
      return `  ${event.ok ? "✓" : "✗"} ${formatDuration(event.durationMs)}: ${event.summary}`;
    case "proposal-started":
      return `▶ proposing the skill ${event.name ?? "(unnamed)"}`;
    case "proposal-finished":
      return `  ${event.outcome === "proposed" || event.outcome === "approved" ? "✓" : "✗"} ${event.summary}`;
    case "files-ready":
      return `· files: ${event.files.map((file) => `${file.name} (${formatBytes(file.bytes)})`).join(", ")}`;
    case "answer-delta":
    case "turn-started":
    case "turn-finished":
    case "turn-failed":
      return null;
  }
}

function codeHeadline(code: string): string {
  const lines = code.split("\n").filter((line) => line.trim() !== "");
  const first = (lines[0] ?? "").trim();
  const shown = first.length > 100 ? `${first.slice(0, 100)}…` : first;
  return lines.length > 1 ? `${shown}  (+${lines.length - 1} line${lines.length === 2 ? "" : "s"})` : shown;
}
