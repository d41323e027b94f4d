/**
 * A Discord emulator on 127.0.0.1: the REST API (v10) under /api and the
 * gateway (discord-gateway.ts) at /gateway, for the real discord.js client
 * pointed here by its REST `api` option; it finds the gateway through
 * GET /gateway/bot as it does against Discord. It keeps channels, threads
 * and messages, serves attachment downloads, checks message bodies as
 * Discord would (discord-message-rules.ts), answers as Discord does for a
 * channel it does not know (GET: 404 Unknown Channel) or one the bot may not
 * send in (denySend: 403), and records every call. It fails
 * loudly: an unknown route, a wrong token or a refused body is a fault that
 * `assertDone()` throws on.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EmulatedGateway } from "./discord-gateway.ts";
import { messageProblems, type UploadedFile } from "./discord-message-rules.ts";
import { dmChannel, member, message, snowflake, textChannel, thread, user, type ApiAttachment, type ApiChannel, type ApiMessage, type ApiUser } from "./discord-payloads.ts";

export * from "./discord-payloads.ts";
export { textDisplays, componentsV2Flag } from "./discord-message-rules.ts";

export interface RecordedCall {
  method: string;
  /** The path after /api/v10, e.g. "/channels/123/messages". */
  path: string;
  /** The JSON body, or a multipart body's payload_json; null when none. */
  body: any;
  files: UploadedFile[];
  /** performance.now() when it arrived. */
  at: number;
}

export interface DiscordEmulatorOptions {
  /** The upload limit the emulator enforces and reports in interactions (attachment_size_limit). */
  uploadLimitBytes?: number;
  heartbeatIntervalMs?: number;
  /** Roles the guild has besides @everyone (GUILD_CREATE lists them; discord.js keeps a member's roles only if the guild has them). */
  roles?: string[];
}

interface InteractionRecord {
  id: string;
  channelId: string;
  guildId: string | undefined;
  /** 2: an application command; 3: a message component (a button). */
  type: number;
  /** The message a component was used on; null for a command. */
  sourceMessageId: string | null;
  /** The original response once deferred or replied: for a component acknowledged as an update (6, 7), the message it is on. */
  messageId: string | null;
  ephemeral: boolean;
  /** The INTERACTION_CREATE payload, to deliver again. */
  payload: unknown;
  /** Delivered again (as to a bot after a restart): a second acknowledgement is Discord's error 40060, not a fault. */
  redelivered: boolean;
}

export class DiscordEmulator {
  readonly token = `emulated.${randomBytes(12).toString("hex")}`;
  readonly applicationId = snowflake();
  readonly guildId = snowflake();
  readonly channelId = snowflake();
  readonly bot: ApiUser;
  readonly calls: RecordedCall[] = [];
  readonly faults: string[] = [];
  /** The ids of attachments downloaded from the CDN, in order. */
  readonly downloads: string[] = [];
  readonly uploadLimitBytes: number;
  readonly channels = new Map<string, ApiChannel>();
  readonly #messages = new Map<string, ApiMessage[]>();
  readonly #attachments = new Map<string, { data: Buffer; contentType: string }>();
  readonly #interactions = new Map<string, InteractionRecord>();
  /** Channels where the bot lacks Send Messages: a post there is Discord's 403 Missing Permissions (50013), not a fault. */
  readonly #withoutSendPermission = new Set<string>();
  readonly #waiters: { test: (call: RecordedCall) => boolean; resolve: (call: RecordedCall) => void }[] = [];
  readonly #server: Server;
  readonly gateway: EmulatedGateway;
  #origin = "";

  constructor(options: DiscordEmulatorOptions = {}) {
    this.uploadLimitBytes = options.uploadLimitBytes ?? 10 * 1024 * 1024;
    this.bot = user(this.applicationId, "threadbook", true);
    this.channels.set(this.channelId, textChannel(this.channelId, this.guildId, "data"));
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.faults.push(`emulator failed: ${error instanceof Error ? error.stack : String(error)}`);
        if (!response.headersSent) send(response, 500, { message: "emulator failed", code: 0 });
      });
    });
    this.gateway = new EmulatedGateway(this.#server, {
      token: this.token,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 2_000,
      fault: (text) => this.faults.push(text),
      ready: () => ({ v: 10, user: { ...this.bot, verified: true, mfa_enabled: false, flags: 0 }, guilds: [{ id: this.guildId, unavailable: true }], application: { id: this.applicationId, flags: 0 } }),
      guildCreate: () => ({
        id: this.guildId, name: "Data team", icon: null, owner_id: snowflake(), unavailable: false, member_count: 2, large: false,
        roles: [this.guildId, ...(options.roles ?? [])].map((id, position) => ({ id, name: position === 0 ? "@everyone" : `role ${position}`, permissions: "2248473465835073", position, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 })),
        channels: [...this.channels.values()].filter((channel) => channel.type === 0),
        // Discord lists the guild's active threads the bot can see.
        threads: [...this.channels.values()].filter((channel) => channel.type === 11), members: [member(this.bot)], emojis: [], stickers: [], features: [], voice_states: [], presences: [],
        joined_at: "2024-01-01T00:00:00.000Z", premium_tier: 0, preferred_locale: "en-US", system_channel_flags: 0, verification_level: 0, nsfw_level: 0, mfa_level: 0,
      }),
    });
  }

  static async start(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
    const emulator = new DiscordEmulator(options);
    await new Promise<void>((resolve) => emulator.#server.listen(0, "127.0.0.1", resolve));
    const { port } = emulator.#server.address() as AddressInfo;
    emulator.#origin = `http://127.0.0.1:${port}`;
    emulator.gateway.url = `ws://127.0.0.1:${port}/gateway`;
    return emulator;
  }

  /** For the REST `api` option and DISCORD_API_URL. */
  get apiUrl(): string {
    return `${this.#origin}/api`;
  }

  /** A file Discord's CDN serves, as an attachment to put in an event. */
  attachment(name: string, data: Buffer, contentType = "application/octet-stream"): ApiAttachment {
    const id = snowflake();
    this.#attachments.set(id, { data, contentType });
    const url = `${this.#origin}/attachments/${id}/${encodeURIComponent(name)}`;
    return { id, filename: name, size: data.length, url, proxy_url: url, content_type: contentType };
  }

  /** A thread someone else opened in the text channel (owner: `ownerId`), announced on the gateway. */
  openThread(ownerId: string, name = "a thread"): ApiChannel {
    const created = thread(snowflake(), this.guildId, this.channelId, ownerId, name);
    this.channels.set(created.id, created);
    this.gateway.dispatch("THREAD_CREATE", { ...created, newly_created: true });
    return created;
  }

  /** A DM channel between the bot and `recipient`. */
  dm(recipient: ApiUser): ApiChannel {
    const channel = dmChannel(snowflake(), recipient);
    this.channels.set(channel.id, channel);
    return channel;
  }

  /** A user posts a message; MESSAGE_CREATE goes out on the gateway. */
  post(fields: { author: ApiUser; channelId: string; content: string; attachments?: ApiAttachment[]; roles?: string[]; mentionBot?: boolean }): ApiMessage {
    const channel = this.#channel(fields.channelId);
    const posted = message({
      channelId: channel.id, guildId: channel.guild_id, author: fields.author, content: fields.content,
      attachments: fields.attachments, mentions: fields.mentionBot ? [this.bot] : [], roles: fields.roles,
    });
    this.#store(posted);
    // Discord adds the channel's type to MESSAGE_CREATE; discord.js needs it to open a DM channel it has not seen.
    this.gateway.dispatch("MESSAGE_CREATE", { ...posted, channel_type: channel.type });
    return posted;
  }

  /** The same MESSAGE_CREATE once more, as Discord may deliver an event again (e.g. to a bot that restarted mid-event). */
  redeliver(posted: ApiMessage): void {
    const channel = this.#channel(posted.channel_id);
    this.gateway.dispatch("MESSAGE_CREATE", { ...posted, channel_type: channel.type });
  }

  /** The same INTERACTION_CREATE once more (same id and token). */
  redeliverInteraction(token: string): void {
    const interaction = this.#interactions.get(token);
    if (interaction === undefined) throw new Error("no such interaction");
    interaction.redelivered = true;
    this.gateway.dispatch("INTERACTION_CREATE", interaction.payload);
  }

  /** A slash command; INTERACTION_CREATE goes out on the gateway. */
  command(fields: { name: string; user: ApiUser; channelId?: string; roles?: string[]; options?: { name: string; type: number; value: string }[]; attachments?: ApiAttachment[] }): { id: string; token: string } {
    const attachments = Object.fromEntries((fields.attachments ?? []).map((file) => [file.id, file]));
    return this.#interact(fields.user, fields.channelId ?? this.channelId, fields.roles ?? [], 2, {
      id: snowflake(), name: fields.name, type: 1, options: fields.options ?? [], resolved: { attachments },
    });
  }

  /** The "Ask threadbook" message command on `target`. */
  messageCommand(fields: { user: ApiUser; target: ApiMessage; roles?: string[] }): { id: string; token: string } {
    return this.#interact(fields.user, fields.target.channel_id, fields.roles ?? [], 2, {
      id: snowflake(), name: "Ask threadbook", type: 3, target_id: fields.target.id, resolved: { messages: { [fields.target.id]: fields.target } },
    });
  }

  /** A button press on a message. */
  button(fields: { user: ApiUser; messageId: string; customId: string; roles?: string[] }): { id: string; token: string } {
    const found = this.#find(fields.messageId);
    if (found === undefined) throw new Error(`no message ${fields.messageId}`);
    return this.#interact(fields.user, found.channel_id, fields.roles ?? [], 3, { custom_id: fields.customId, component_type: 2 }, found);
  }

  /** Takes the bot's permission to send messages in the channel away. */
  denySend(channelId: string): void {
    this.#channel(channelId);
    this.#withoutSendPermission.add(channelId);
  }

  /** The messages of a channel as they stand now, oldest first. */
  messagesIn(channelId: string): ApiMessage[] {
    return [...(this.#messages.get(channelId) ?? [])];
  }

  /** Threads opened in the text channel, oldest first. */
  threads(): ApiChannel[] {
    return [...this.channels.values()].filter((channel) => channel.type === 11);
  }

  /** The first recorded call (now or later) that passes the test. */
  waitFor(test: (call: RecordedCall) => boolean): Promise<RecordedCall> {
    const seen = this.calls.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  /** The interaction's callback, edits and follow-ups, recorded. */
  interactionCalls(interactionToken: string): RecordedCall[] {
    return this.calls.filter((call) => call.path.includes(`/${interactionToken}`));
  }

  assertDone(): void {
    if (this.faults.length > 0) throw new Error(`Discord emulator faults:\n${this.faults.join("\n")}`);
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #interact(who: ApiUser, channelId: string, roles: string[], type: number, data: unknown, source?: ApiMessage): { id: string; token: string } {
    const channel = this.#channel(channelId);
    const id = snowflake();
    const token = `interaction.${randomBytes(16).toString("hex")}`;
    const inGuild = channel.guild_id !== undefined;
    const payload = {
      id, token, type, data, application_id: this.applicationId, version: 1,
      channel_id: channelId, channel,
      ...(inGuild ? { guild_id: channel.guild_id, member: member(who, roles), guild_locale: "en-US" } : { user: who }),
      ...(source === undefined ? {} : { message: source }),
      locale: "en-US", app_permissions: "2248473465835073", entitlements: [], authorizing_integration_owners: { 0: this.guildId },
      context: inGuild ? 0 : 1, attachment_size_limit: this.uploadLimitBytes,
    };
    this.#interactions.set(token, { id, type, sourceMessageId: source?.id ?? null, channelId, guildId: channel.guild_id, messageId: null, ephemeral: false, payload, redelivered: false });
    this.gateway.dispatch("INTERACTION_CREATE", payload);
    return { id, token };
  }

  #channel(id: string): ApiChannel {
    const channel = this.channels.get(id);
    if (channel === undefined) throw new Error(`no channel ${id}`);
    return channel;
  }

  #store(stored: ApiMessage): void {
    const list = this.#messages.get(stored.channel_id) ?? [];
    list.push(stored);
    this.#messages.set(stored.channel_id, list);
  }

  #find(messageId: string): ApiMessage | undefined {
    for (const list of this.#messages.values()) {
      const found = list.find((candidate) => candidate.id === messageId);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", this.#origin);
    const method = request.method ?? "GET";
    const raw = await readBody(request);
    if (url.pathname.startsWith("/attachments/")) {
      const stored = this.#attachments.get(url.pathname.split("/")[2] ?? "");
      this.downloads.push(url.pathname.split("/")[2] ?? "");
      if (stored === undefined) return this.#refuse(response, 404, `download of an unknown attachment ${url.pathname}`);
      response.writeHead(200, { "content-type": stored.contentType, "content-length": stored.data.length });
      response.end(stored.data);
      return;
    }
    if (!url.pathname.startsWith("/api/v10/")) return this.#refuse(response, 404, `${method} ${url.pathname}: not under /api/v10`);
    const path = decodeURIComponent(url.pathname.slice("/api/v10".length));
    const { body, files } = await parseBody(request.headers["content-type"] ?? "", raw);
    const call: RecordedCall = { method, path, body, files, at: performance.now() };
    this.calls.push(call);
    try {
      await this.#route(method, path, call, request, response);
    } finally {
      for (const waiter of [...this.#waiters]) {
        if (!waiter.test(call)) continue;
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(call);
      }
    }
  }

  async #route(method: string, path: string, call: RecordedCall, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const interactionRoute = /^\/(interactions\/\d+\/[^/]+\/callback|webhooks\/\d+\/[^/]+)/.test(path);
    if (!interactionRoute && request.headers.authorization !== `Bot ${this.token}`) return this.#refuse(response, 401, `${method} ${path} without the bot token`);
    let match: RegExpExecArray | null;
    if (method === "GET" && path === "/gateway/bot") {
      return send(response, 200, { url: `ws://${new URL(this.#origin).host}/gateway`, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } });
    }
    if (method === "PUT" && (match = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path))) {
      if (match[1] !== this.applicationId) return this.#refuse(response, 404, `commands for an unknown application ${match[1]}`);
      return send(response, 200, (call.body as any[]).map((command) => ({ ...command, id: snowflake(), application_id: this.applicationId, version: snowflake(), ...(match?.[2] ? { guild_id: match[2] } : {}) })));
    }
    if (method === "POST" && (match = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path))) return this.#callback(match[1]!, match[2]!, call, response);
    if ((match = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|\d+))?$/.exec(path))) return this.#webhook(method, match[2]!, match[3], call, response);
    if (method === "POST" && (match = /^\/channels\/(\d+)\/typing$/.exec(path))) return send(response, 204);
    if (method === "GET" && (match = /^\/channels\/(\d+)$/.exec(path))) {
      const channel = this.channels.get(match[1]!);
      return channel === undefined ? send(response, 404, { message: "Unknown Channel", code: 10003 }) : send(response, 200, channel);
    }
    if (method === "POST" && (match = /^\/channels\/(\d+)\/messages$/.exec(path))) {
      const channel = this.channels.get(match[1]!);
      if (channel === undefined) return this.#refuse(response, 404, `message to an unknown channel ${match[1]}`);
      if (this.#withoutSendPermission.has(channel.id)) return send(response, 403, { message: "Missing Permissions", code: 50013 });
      if (!this.#valid(call, response)) return;
      const created = message({ channelId: channel.id, guildId: channel.guild_id, author: this.bot, content: call.body.content, flags: call.body.flags, components: call.body.components, attachments: this.#keep(call.files) });
      this.#store(created);
      return send(response, 200, created);
    }
    if ((match = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path))) {
      const found = this.#find(match[2]!);
      if (found === undefined || found.channel_id !== match[1]) return this.#refuse(response, 404, `${method} of an unknown message ${match[2]}`);
      if (method === "DELETE") {
        const list = this.#messages.get(found.channel_id) ?? [];
        list.splice(list.indexOf(found), 1);
        return send(response, 204);
      }
      if (method !== "PATCH") return this.#refuse(response, 405, `${method} ${path}`);
      if (found.author.id !== this.bot.id) return this.#refuse(response, 403, "edit of someone else's message");
      if (!this.#valid(call, response, found.flags)) return;
      this.#edit(found, call);
      return send(response, 200, found);
    }
    if (method === "POST" && (match = /^\/channels\/(\d+)\/threads$/.exec(path))) {
      const parent = this.channels.get(match[1]!);
      if (parent?.type !== 0) return this.#refuse(response, 400, `thread in channel ${match[1]}, not a text channel`);
      const created = thread(snowflake(), this.guildId, parent.id, this.bot.id, String(call.body?.name ?? ""));
      if (String(created.name).length < 1 || String(created.name).length > 100) return this.#refuse(response, 400, `thread name of ${String(created.name).length} characters`);
      this.channels.set(created.id, created);
      return send(response, 201, created);
    }
    if (method === "POST" && (match = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(path))) {
      const found = this.#find(match[2]!);
      if (found === undefined) return this.#refuse(response, 404, `thread from an unknown message ${match[2]}`);
      if (this.channels.has(found.id)) return send(response, 400, { message: "A thread has already been created for this message", code: 160004 });
      const created = thread(found.id, this.guildId, match[1]!, this.bot.id, String(call.body?.name ?? ""));
      this.channels.set(created.id, created);
      return send(response, 201, created);
    }
    return this.#refuse(response, 404, `unexpected call ${method} ${path}`);
  }

  #callback(interactionId: string, token: string, call: RecordedCall, response: ServerResponse): void {
    const interaction = this.#interactions.get(token);
    if (interaction === undefined || interaction.id !== interactionId) return this.#refuse(response, 404, "callback for an unknown interaction");
    if (interaction.messageId !== null) {
      if (interaction.redelivered) return send(response, 400, { message: "Interaction has already been acknowledged.", code: 40060 });
      return this.#refuse(response, 400, "interaction acknowledged twice");
    }
    const type = Number(call.body?.type);
    const data = call.body?.data ?? {};
    if (type === 6 || type === 7) {
      // DEFERRED_UPDATE_MESSAGE and UPDATE_MESSAGE answer a component only: the message it is on becomes the original response.
      const source = interaction.type === 3 ? this.#find(interaction.sourceMessageId ?? "") : undefined;
      if (source === undefined) return this.#refuse(response, 400, `callback type ${type} for an interaction that is not a component on a message`);
      if (type === 7) {
        if (!this.#valid({ ...call, body: data }, response, source.flags)) return;
        this.#edit(source, { ...call, body: data });
      }
      interaction.messageId = source.id;
      return send(response, 204);
    }
    if (type !== 4 && type !== 5) return this.#refuse(response, 400, `callback type ${type}`);
    if (type === 4 && !this.#valid({ ...call, body: data }, response)) return;
    const channel = this.#channel(interaction.channelId);
    const created = message({ channelId: channel.id, guildId: channel.guild_id, author: this.bot, content: type === 4 ? data.content : "", flags: data.flags, components: data.components, webhookId: this.applicationId });
    interaction.messageId = created.id;
    interaction.ephemeral = (Number(data.flags ?? 0) & 64) !== 0;
    this.#store(created);
    send(response, 204);
  }

  #webhook(method: string, token: string, messageId: string | undefined, call: RecordedCall, response: ServerResponse): void {
    const interaction = this.#interactions.get(token);
    if (interaction === undefined) return this.#refuse(response, 404, "webhook call for an unknown interaction");
    const channel = this.#channel(interaction.channelId);
    if (messageId === undefined && method === "POST") {
      if (interaction.messageId === null) return this.#refuse(response, 400, "follow-up before the interaction was acknowledged");
      if (!this.#valid(call, response)) return;
      const created = message({ channelId: channel.id, guildId: channel.guild_id, author: this.bot, content: call.body.content, flags: call.body.flags, components: call.body.components, attachments: this.#keep(call.files), webhookId: this.applicationId });
      this.#store(created);
      return send(response, 200, created);
    }
    const target = this.#find(messageId === "@original" ? interaction.messageId ?? "" : messageId ?? "");
    if (target === undefined) return this.#refuse(response, 404, `${method} of a webhook message before the interaction was acknowledged`);
    if (method === "GET") return send(response, 200, target);
    if (method !== "PATCH") return this.#refuse(response, 405, `${method} on a webhook message`);
    if (!this.#valid(call, response, target.flags)) return;
    this.#edit(target, call);
    send(response, 200, target);
  }

  #valid(call: RecordedCall, response: ServerResponse, existingFlags = 0): boolean {
    const body = { ...call.body, flags: Number(call.body?.flags ?? 0) | (existingFlags & (1 << 15)) };
    const problems = messageProblems(body, call.files, this.uploadLimitBytes);
    if (problems.length === 0) return true;
    this.#refuse(response, 400, `${call.method} ${call.path} refused: ${problems.join("; ")}`);
    return false;
  }

  #edit(target: ApiMessage, call: RecordedCall): void {
    const body = call.body ?? {};
    if (body.content !== undefined) target.content = body.content ?? "";
    if (body.components !== undefined) target.components = body.components;
    if (body.flags !== undefined) target.flags = Number(body.flags) | (target.flags & (1 << 15));
    if (body.attachments !== undefined || call.files.length > 0) {
      const keptIds = new Set((body.attachments ?? []).map((attachment: { id: string }) => String(attachment.id)));
      target.attachments = [...target.attachments.filter((attachment) => keptIds.has(attachment.id)), ...this.#keep(call.files)];
    }
    target.edited_timestamp = new Date().toISOString();
  }

  #keep(files: UploadedFile[]): ApiAttachment[] {
    return files.map((file) => this.attachment(file.name, file.data, file.contentType));
  }

  #refuse(response: ServerResponse, status: number, fault: string): void {
    this.faults.push(fault);
    send(response, status, { message: fault, code: 0 });
  }
}

function send(response: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    response.writeHead(status);
    response.end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json" });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** JSON, or multipart with payload_json and files[n] as discord.js sends attachments. */
async function parseBody(contentType: string, raw: Buffer): Promise<{ body: any; files: UploadedFile[] }> {
  if (raw.length === 0) return { body: null, files: [] };
  if (contentType.startsWith("application/json")) return { body: JSON.parse(raw.toString("utf8")), files: [] };
  if (!contentType.startsWith("multipart/form-data")) return { body: raw.toString("utf8"), files: [] };
  const form = await new Request("http://127.0.0.1/", { method: "POST", headers: { "content-type": contentType }, body: raw }).formData();
  let body: any = {};
  const files: UploadedFile[] = [];
  for (const [name, value] of form.entries()) {
    if (name === "payload_json" && typeof value === "string") body = JSON.parse(value);
    else if (typeof value !== "string") files.push({ name: value.name, data: Buffer.from(await value.arrayBuffer()), contentType: value.type });
  }
  return { body, files };
}
