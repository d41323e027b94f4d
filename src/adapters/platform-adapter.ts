/**
 * The seam for chat platforms: `threadbook start` starts every configured
 * adapter and stops them on shutdown. Slack is configured by SLACK_BOT_TOKEN,
 * Discord by DISCORD_TOKEN; with no platform configured, `start` runs the
 * local chat.
 */
import { discordApiUrl, type Config } from "../config.ts";
import type { Agent } from "../core/agent.ts";
import type { Logger } from "../log.ts";
import type { SkillReview } from "../skills/skill-review.ts";
import { withholdHosts } from "./chat-safe.ts";
import { openAccessWarnings } from "./open-access.ts";

export interface PlatformAdapter {
  /** e.g. "slack", for logs. */
  readonly name: string;
  /** The port it listens on for the platform's requests, when it does (Slack's HTTP mode). */
  readonly httpPort?: number | undefined;
  /** Whether it is connected to its platform now (a readiness probe asks). */
  readonly connected: boolean;
  /** Connects and starts turning events into turns; resolves once it listens. */
  start(): Promise<void>;
  /**
   * Stops taking new events, lets the replies of turns in flight be posted
   * until `deadline` (epoch ms; its own bound when not given), and disconnects.
   */
  stop(deadline?: number): Promise<void>;
}

/** True when the settings name a chat platform, so `start` runs as a bot. */
export function hasConfiguredPlatform(config: Config): boolean {
  return config.slack !== undefined || config.discord !== undefined;
}

/**
 * The adapters the settings configure, wired to the agent and to the skill
 * review (approval buttons); each platform's SDK is loaded only when it is configured.
 * A platform with no allow-list draws one warning in the log.
 */
export async function createPlatformAdapters(config: Config, agent: Agent, logger: Logger, review: SkillReview): Promise<PlatformAdapter[]> {
  for (const warning of openAccessWarnings(config)) logger.warn(warning);
  withholdHosts(configuredHosts(config));
  const adapters: PlatformAdapter[] = [];
  if (config.slack !== undefined) {
    const { SlackAdapter } = await import("./slack/slack-adapter.ts");
    adapters.push(new SlackAdapter({ settings: config.slack, agent, logger, skillReview: review }));
  }
  if (config.discord !== undefined) {
    const { DiscordAdapter } = await import("./discord/discord-adapter.ts");
    adapters.push(new DiscordAdapter({ settings: config.discord, agent, logger, skillReview: review }));
  }
  return adapters;
}

/** The hosts the settings point the bot at, none of which a chat should see. */
function configuredHosts(config: Config): string[] {
  const urls = [config.model.baseURL, config.slack?.apiUrl, config.discord?.apiUrl === discordApiUrl ? undefined : config.discord?.apiUrl, config.sandbox.dockerHost, ...config.sandbox.dockerHosts];
  return urls.flatMap((url) => (url !== undefined && URL.canParse(url) && new URL(url).hostname !== "" ? [new URL(url).hostname] : []));
}
