/**
 * The seam for chat platforms: `threadbook start` starts every configured
 * adapter and stops them on shutdown. Slack and Discord implement it in a
 * later issue; until then none is configured and `start` runs the local chat.
 */
import type { Config } from "../config.ts";
import type { Agent } from "../core/agent.ts";
import type { Logger } from "../log.ts";

export interface PlatformAdapter {
  /** e.g. "slack", for logs. */
  readonly name: string;
  /** Connects and starts turning events into turns; resolves once it listens. */
  start(): Promise<void>;
  /** Stops taking new events and disconnects. */
  stop(): Promise<void>;
}

/** True when the settings name a chat platform, so `start` runs as a bot. */
export function hasConfiguredPlatform(_config: Config): boolean {
  return false;
}

/** The adapters the settings configure, wired to the agent. */
export function createPlatformAdapters(_config: Config, _agent: Agent, _logger: Logger): PlatformAdapter[] {
  return [];
}
