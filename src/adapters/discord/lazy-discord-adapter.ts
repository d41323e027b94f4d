/**
 * The Discord adapter, loaded only when it starts: discord.js takes a while
 * to load, which `--help` and the terminal commands should not wait for.
 */
import type { DiscordSettings } from "../../config.ts";
import type { Agent } from "../../core/agent.ts";
import type { Logger } from "../../log.ts";
import type { PlatformAdapter } from "../platform-adapter.ts";

export function lazyDiscordAdapter(settings: DiscordSettings, agent: Agent, logger: Logger, fileMaxBytes: number): PlatformAdapter {
  let adapter: PlatformAdapter | undefined;
  return {
    name: "discord",
    async start() {
      const { DiscordAdapter } = await import("./discord-adapter.ts");
      adapter = new DiscordAdapter({ settings, agent, logger, fileMaxBytes });
      await adapter.start();
    },
    async stop() {
      await adapter?.stop();
    },
  };
}
