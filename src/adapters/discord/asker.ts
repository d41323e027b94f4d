/** Who asks, for the allow-lists and the Turn, from an interaction or a message. */
import type { APIInteractionGuildMember, Channel, GuildMember, User } from "discord.js";
import type { TurnUser } from "../../core/turn.ts";
import type { Asker } from "./access.ts";

export function askerOf(guildId: string | null, channelId: string, channel: Channel | null, member: GuildMember | APIInteractionGuildMember | null): Asker {
  const roleIds = member === null ? [] : Array.isArray(member.roles) ? member.roles : [...(member as GuildMember).roles.cache.keys()];
  const parentId = channel?.isThread() ? channel.parentId : null;
  return { guildId, channelId, parentId, roleIds };
}

export function turnUser(user: User, guildId: string | null, member: GuildMember | APIInteractionGuildMember | null): TurnUser {
  const nick = member === null ? null : "displayName" in member ? member.displayName : member.nick ?? null;
  return { platform: "discord", id: user.id, workspace: guildId, displayName: nick ?? user.globalName ?? user.username };
}
