/**
 * The Discord API objects the emulator hands out, shaped as Discord sends
 * them (API v10): users, members, channels, threads, messages, attachments
 * and interactions. Only the fields discord.js reads are filled in.
 */

let counter = 1_300_000_000_000_000_000n;

/** A fresh snowflake: increasing, unique within the process. */
export function snowflake(): string {
  counter += 1n;
  return counter.toString();
}

export interface ApiUser {
  id: string;
  username: string;
  discriminator: string;
  global_name: string | null;
  avatar: null;
  bot?: boolean;
}

export function user(id: string, name: string, bot = false): ApiUser {
  return { id, username: name.toLowerCase(), discriminator: "0", global_name: name, avatar: null, ...(bot ? { bot: true } : {}) };
}

export function member(who: ApiUser, roles: string[] = []) {
  return { user: who, roles, nick: null, avatar: null, joined_at: "2024-01-01T00:00:00.000Z", deaf: false, mute: false, flags: 0, permissions: "2248473465835073" };
}

export const ChannelTypes = { text: 0, dm: 1, publicThread: 11 } as const;

export interface ApiChannel {
  id: string;
  type: number;
  name?: string;
  guild_id?: string;
  parent_id?: string;
  owner_id?: string;
  recipients?: ApiUser[];
  [field: string]: unknown;
}

export function textChannel(id: string, guildId: string, name: string): ApiChannel {
  return { id, type: ChannelTypes.text, name, guild_id: guildId, position: 0, permission_overwrites: [], nsfw: false, parent_id: null as unknown as string, last_message_id: null };
}

export function thread(id: string, guildId: string, parentId: string, ownerId: string, name: string): ApiChannel {
  return {
    id, type: ChannelTypes.publicThread, name, guild_id: guildId, parent_id: parentId, owner_id: ownerId,
    last_message_id: null, message_count: 0, member_count: 1, rate_limit_per_user: 0, flags: 0, total_message_sent: 0,
    thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false },
  };
}

export function dmChannel(id: string, recipient: ApiUser): ApiChannel {
  return { id, type: ChannelTypes.dm, recipients: [recipient], last_message_id: null, flags: 0 };
}

export interface ApiAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
}

export interface ApiMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: ApiUser;
  member?: Record<string, unknown>;
  content: string;
  flags: number;
  components: unknown[];
  attachments: ApiAttachment[];
  mentions: ApiUser[];
  [field: string]: unknown;
}

export function message(fields: { id?: string; channelId: string; guildId?: string; author: ApiUser; content?: string; flags?: number; components?: unknown[]; attachments?: ApiAttachment[]; mentions?: ApiUser[]; roles?: string[]; webhookId?: string }): ApiMessage {
  return {
    id: fields.id ?? snowflake(),
    channel_id: fields.channelId,
    ...(fields.guildId === undefined ? {} : { guild_id: fields.guildId }),
    author: fields.author,
    ...(fields.guildId === undefined || fields.author.bot ? {} : { member: memberWithoutUser(fields.author, fields.roles ?? []) }),
    content: fields.content ?? "",
    flags: fields.flags ?? 0,
    components: fields.components ?? [],
    attachments: fields.attachments ?? [],
    mentions: fields.mentions ?? [],
    mention_roles: [],
    mention_everyone: false,
    embeds: [],
    pinned: false,
    tts: false,
    type: 0,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    ...(fields.webhookId === undefined ? {} : { webhook_id: fields.webhookId }),
  };
}

/** A message's member field: the member without its user, which is the author. */
function memberWithoutUser(who: ApiUser, roles: string[]): Record<string, unknown> {
  const { user: _user, ...rest } = member(who, roles);
  return rest;
}
