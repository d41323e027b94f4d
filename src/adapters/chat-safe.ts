/**
 * What a chat message may say of the bot's own machine: nothing. Failure
 * messages are written for the operator too (the model service's address,
 * the database's path), and the log keeps them whole; in a thread, which
 * anyone in the workspace may read, addresses, host names and paths of the
 * bot's side are replaced by a plain word. Only the bot's own messages pass
 * here: what a cell printed is the sandbox's, not the machine's.
 */
import { hostname } from "node:os";
import { userMessage } from "../errors.ts";
import type { Progress, ProgressEvent, Reply } from "../core/turn.ts";

const withheldAddress = "(an address on threadbook's side)";
const withheldPath = "(a path on threadbook's machine)";

const patterns: [RegExp, string][] = [
  // scheme://anything
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s<>"'`)\]]+/gi, withheldAddress],
  // [::1]:8080
  [/\[[0-9a-f:.]+\](?::\d{1,5})?/gi, withheldAddress],
  // 10.0.0.7 or 10.0.0.7:4000
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b/g, withheldAddress],
  // llm.internal:11434, localhost:4000
  [/\b(?:localhost|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+):\d{1,5}\b/gi, withheldAddress],
  [/\blocalhost\b/gi, withheldAddress],
  // /var/lib/threadbook/data/threadbook.db: an absolute path under a root a machine has (not an API's /chat/completions)
  [/(?<![\w.:/@-])\/(?:home|Users|root|var|tmp|usr|etc|opt|srv|run|mnt|media|data|work|app|proc|sys|dev|private|nix)\/[^\s"'`<>)]*/g, withheldPath],
];

/** Host names the settings name (the model service's, say), withheld as words too: `llm.internal` needs no port to be internal. */
let configuredHosts: readonly string[] = [];

/** Sets the host names the settings name, once at start. */
export function withholdHosts(hosts: readonly string[]): void {
  configuredHosts = [...hosts];
}

/**
 * The text with every address, host name and path of the bot's side
 * replaced. `knownHosts`: names to withhold wherever they appear, besides
 * the machine's own name and those `withholdHosts` set.
 */
export function withoutMachineDetails(text: string, knownHosts: readonly string[] = []): string {
  let safe = text;
  for (const host of [...knownHosts, ...configuredHosts, hostname()].filter((name) => name.length >= 3)) {
    safe = safe.replace(new RegExp(`(?<![\\w.-])${host.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`, "g"), withheldAddress);
  }
  for (const [pattern, replacement] of patterns) safe = safe.replace(pattern, replacement);
  return safe;
}

/** The message for a thrown value as a chat may show it. */
export function chatMessage(error: unknown): string {
  return withoutMachineDetails(userMessage(error));
}

/** The reply with its failure message fit for a chat; the answer and the cells are the model's and the sandbox's, left as they are. */
export function chatSafeReply(reply: Reply): Reply {
  return reply.error === null ? reply : { ...reply, error: withoutMachineDetails(reply.error) };
}

/** Progress whose failure messages are fit for a chat, as they reach `progress`. */
export function chatSafeProgress(progress: Progress): Progress {
  return {
    report(event: ProgressEvent) {
      if (event.type === "turn-failed") return progress.report({ ...event, message: withoutMachineDetails(event.message) });
      if (event.type === "turn-finished") return progress.report({ ...event, reply: chatSafeReply(event.reply) });
      return progress.report(event);
    },
  };
}
