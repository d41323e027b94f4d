/**
 * The Discord bot: a discord.js client on the gateway (Guilds, Guild
 * Messages, Message Content and Direct Messages intents), its REST base from
 * DISCORD_API_URL, turning interactions and messages into turns, and
 * offering proposed skills to their approvers. Once connected it tells
 * each conversation whose question a crash left unanswered to ask again
 * (interrupted-turns.ts). On stop it
 * takes no new events, lets the handlers post what they have, and
 * disconnects.
 */
import { Client, Events, GatewayIntentBits, Partials, Status } from "discord.js";
import type { DiscordSettings } from "../../config.ts";
import type { Agent } from "../../core/agent.ts";
import { timedOut, within } from "../../deadline.ts";
import type { Logger } from "../../log.ts";
import type { SkillReview } from "../../skills/skill-review.ts";
import type { PlatformAdapter } from "../platform-adapter.ts";
import type { DiscordContext } from "./discord-context.ts";
import { handleInteraction } from "./interaction-handler.ts";
import { interruptedLookMs, noticeInterruptedTurns } from "./interrupted-turns.ts";
import { handleMessage } from "./message-handler.ts";

/** How long stop waits for handlers to post the replies of turns that ended. */
const postingGraceMs = 30_000;

export interface DiscordAdapterOptions {
  settings: DiscordSettings;
  agent: Agent;
  logger: Logger;
  /** Approving proposed skills with buttons; without it, a proposal is only named in the reply. */
  skillReview?: SkillReview;
}

export class DiscordAdapter implements PlatformAdapter {
  readonly name = "discord";
  readonly #options: DiscordAdapterOptions;
  readonly #logger: Logger;
  readonly #handlers = new Set<Promise<void>>();
  #client: Client | undefined;
  #stopping = false;
  /** Looks again now and then for turns a dead replica left (interrupted-turns.ts). */
  #lookAgain: NodeJS.Timeout | undefined;

  constructor(options: DiscordAdapterOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ platform: "discord" });
  }

  /** Logged in, and every gateway shard is ready (not reconnecting or resuming). */
  get connected(): boolean {
    const client = this.#client;
    return client !== undefined && !this.#stopping && client.isReady() && [...client.ws.shards.values()].every((shard) => shard.status === Status.Ready);
  }

  /** The connected client, for tests and benchmarks. */
  get client(): Client | undefined {
    return this.#client;
  }

  async start(): Promise<void> {
    const client = new Client({
      intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.DirectMessages],
      // DM channels are not in the cache until a DM arrives.
      partials: [Partials.Channel],
      rest: { api: this.#options.settings.apiUrl },
      allowedMentions: { parse: [] },
      // One gateway connection per shard this replica runs; guilds are spread over shards by Discord.
      ...(this.#options.settings.shards === undefined ? {} : { shards: this.#options.settings.shards.ids, shardCount: this.#options.settings.shards.count }),
    });
    this.#client = client;
    client.on(Events.Error, (error) => this.#logger.error({ err: error }, "discord client error"));
    client.on(Events.ShardDisconnect, (event, shard) => this.#logger.warn({ code: event.code, shard }, "gateway disconnected"));
    client.on(Events.ShardResume, (shard) => this.#logger.info({ shard }, "gateway resumed"));
    const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
    await client.login(this.#options.settings.token);
    const readyClient = await ready;
    const context: DiscordContext = { client: readyClient, agent: this.#options.agent, settings: this.#options.settings, logger: this.#logger, skillReview: this.#options.skillReview };
    client.on(Events.InteractionCreate, (interaction) => this.#track(handleInteraction(context, interaction)));
    client.on(Events.MessageCreate, (message) => this.#track(handleMessage(context, message)));
    // Not awaited: starting does not wait on Discord for these; stop and idle() do.
    const agent = this.#options.agent;
    this.#track(noticeInterruptedTurns(readyClient, agent, this.#logger));
    let looking = false;
    this.#lookAgain = setInterval(() => {
      if (looking || this.#stopping) return;
      looking = true;
      this.#track(noticeInterruptedTurns(readyClient, agent, this.#logger).finally(() => { looking = false; }));
    }, interruptedLookMs);
    this.#lookAgain.unref();
    this.#logger.info({ user: readyClient.user.id }, "connected to Discord");
  }

  async stop(deadline = Date.now() + postingGraceMs): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#lookAgain);
    const settled = await within(Promise.allSettled([...this.#handlers]), Math.max(0, Math.min(deadline - Date.now(), postingGraceMs)));
    if (settled === timedOut) this.#logger.warn({ handlers: this.#handlers.size }, "handlers still posting at disconnect");
    await this.#client?.destroy();
  }

  /** Settles once every handler running now has finished, for tests. */
  async idle(): Promise<void> {
    while (this.#handlers.size > 0) await Promise.allSettled([...this.#handlers]);
  }

  #track(work: Promise<void>): void {
    if (this.#stopping) this.#logger.debug("event during shutdown: the agent refuses its turn");
    const tracked = work.catch((error: unknown) => this.#logger.error({ err: error }, "discord handler failed")).finally(() => this.#handlers.delete(tracked));
    this.#handlers.add(tracked);
  }
}
