/**
 * The warning a bot gives at start for each platform with no allow-list: it
 * then answers anyone who can reach it (any server that adds a Discord bot,
 * whose "Public Bot" switch is on by default; any Slack Connect guest), so
 * the operator should know, once, and which settings close it.
 */
import type { Config } from "../config.ts";

export function openAccessWarnings(config: Pick<Config, "slack" | "discord">): string[] {
  const warnings: string[] = [];
  const { slack, discord } = config;
  if (slack !== undefined && slack.allowedTeams.length + slack.allowedChannels.length + slack.allowedUsers.length === 0) {
    warnings.push(
      "Slack is open to everyone: no allow-list is set, so anyone who can mention the bot (Slack Connect guests from other organisations included) can run code on this machine. " +
        "Set SLACK_ALLOWED_TEAMS (and SLACK_ALLOWED_CHANNELS or SLACK_ALLOWED_USERS) to limit it.",
    );
  }
  if (discord !== undefined && discord.allowedGuilds.length + discord.allowedChannels.length + discord.allowedRoles.length === 0) {
    warnings.push(
      "Discord is open to everyone: no allow-list is set, so every server that adds the bot (and anyone in a DM) can run code on this machine. " +
        "Set DISCORD_ALLOWED_GUILDS (and DISCORD_ALLOWED_CHANNELS or DISCORD_ALLOWED_ROLES) to limit it, and turn off Public Bot in the Developer Portal.",
    );
  }
  return warnings;
}
