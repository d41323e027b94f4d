/**
 * The seam for chat platforms: `threadbook start` starts every configured
 * adapter and stops them on shutdown. With none configured, `start` runs the
 * local chat.
 */
import type { Config } from "../config.ts";
import type { Agent } from "../core/agent.ts";
import type { Logger } from "../log.ts";
import { lazyDiscordAdapter } from "./discord/lazy-discord-adapter.ts";

export interface PlatformAdapter {
  /** e.g. "slack", for logs. */
  readonly name: string;
  /** Connects and starts turning events into turns; resolves once it listens. */
  start(): Promise<void>;
  /** Stops taking new events and disconnects. */
  stop(): Promise<void>;
}

/** True when the settings name a chat platform, so `start` runs as a bot. */
export function hasConfiguredPlatform(config: Config): boolean {
  return config.discord !== undefined;
}

/** The adapters the settings configure, wired to the agent. */
export function createPlatformAdapters(config: Config, agent: Agent, logger: Logger): PlatformAdapter[] {
  const adapters: PlatformAdapter[] = [];
  if (config.discord !== undefined) adapters.push(lazyDiscordAdapter(config.discord, agent, logger, config.sandbox.fileMb * 1024 * 1024));
  return adapters;
}
