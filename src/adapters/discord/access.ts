/**
 * The optional allow-lists: DISCORD_ALLOWED_GUILDS, DISCORD_ALLOWED_CHANNELS
 * (a thread counts as its parent channel too) and DISCORD_ALLOWED_ROLES. An
 * empty list allows everyone; all lists that are set must allow the user.
 */
import type { DiscordSettings } from "../../config.ts";

export interface Asker {
  /** Null in a DM. */
  guildId: string | null;
  channelId: string;
  /** The parent channel when `channelId` is a thread. */
  parentId: string | null;
  /** The member's roles; empty in a DM. */
  roleIds: readonly string[];
}

export const refusalMessage = "You are not allowed to use threadbook here. Ask a server admin if you think you should be.";

export function isAllowed(asker: Asker, settings: Pick<DiscordSettings, "allowedGuilds" | "allowedChannels" | "allowedRoles">): boolean {
  const { allowedGuilds, allowedChannels, allowedRoles } = settings;
  if (allowedGuilds.length > 0 && (asker.guildId === null || !allowedGuilds.includes(asker.guildId))) return false;
  if (allowedChannels.length > 0 && !allowedChannels.includes(asker.channelId) && (asker.parentId === null || !allowedChannels.includes(asker.parentId))) return false;
  if (allowedRoles.length > 0 && !asker.roleIds.some((role) => allowedRoles.includes(role))) return false;
  return true;
}
