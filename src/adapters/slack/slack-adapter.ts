/**
 * The Slack adapter: a Bolt app, in Socket Mode (SLACK_APP_TOKEN) or HTTP
 * mode (SLACK_SIGNING_SECRET), that turns posts into turns and shows each
 * turn in its thread (turn-view.ts). Bolt acknowledges every event before
 * its listener runs, so the work always runs after the ack.
 */
import { App, Assistant, HTTPReceiver, SocketModeReceiver, type Receiver } from "@slack/bolt";
import type { WebClient } from "@slack/web-api";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SlackSettings } from "../../config.ts";
import type { Agent } from "../../core/agent.ts";
import { timedOut, within } from "../../deadline.ts";
import type { TurnUser } from "../../core/turn.ts";
import type { Logger } from "../../log.ts";
import type { PlatformAdapter } from "../platform-adapter.ts";
import { chatSafeProgress, chatSafeReply } from "../chat-safe.ts";
import { boltLogger } from "./bolt-logger.ts";
import { BoundedSet } from "./bounded-set.ts";
import { conversationKey, eventKey } from "./conversation-key.ts";
import { incomingFiles } from "./file-download.ts";
import { interruptedLookMs, tellInterruptedTurns } from "./interrupted-turns.ts";
import { toIncomingPost, type IncomingPost } from "./incoming-post.ts";
import { uploadNotebook } from "./notebook-upload.ts";
import { exportActionId, feedbackActionId, stopActionId } from "./reply-parts.ts";
import type { SkillReview } from "../../skills/skill-review.ts";
import { isAllowed, refusedNote } from "./slack-access.ts";
import { SkillApprovals } from "./skill-approvals.ts";
import { approveSkillActionId, rejectSkillActionId } from "./skill-card.ts";
import { helpText, threadCommand } from "./thread-commands.ts";
import { TurnView } from "./turn-view.ts";

export interface SlackAdapterOptions {
  settings: SlackSettings;
  agent: Agent;
  logger: Logger;
  /** Socket Mode's ping timeout, which also spaces its reconnection attempts; 5 s by default. */
  socketPingTimeoutMs?: number;
  /** HTTP mode's listening interface (such as 127.0.0.1 in tests); every interface by default. */
  httpHost?: string;
  /** Proposed skills get an approval card in their thread; without it, none (the reply's text still says a skill waits). */
  skillReview?: SkillReview;
}

/** Posts remembered to drop a second delivery in this process at once; the core's claim covers restarts. */
const recentEventsKept = 2_000;
/** Threads remembered as threadbook's; older ones are looked up in the store again. */
const threadsKept = 10_000;
/** How long stop() waits for turns in flight to show their replies. */
const finishGraceMs = 15_000;

export class SlackAdapter implements PlatformAdapter {
  readonly name = "slack";
  readonly #options: SlackAdapterOptions;
  readonly #logger: Logger;
  readonly #app: App;
  readonly #receiver: Receiver;
  readonly #recentEvents = new BoundedSet(recentEventsKept);
  /** Threads threadbook answered in (a cache of the store), so replies there continue without a mention. */
  readonly #threads = new BoundedSet(threadsKept);
  readonly #inFlight = new Set<Promise<void>>();
  readonly #skills: SkillApprovals | null;
  #httpPort: number | undefined;
  /** HTTP mode: the server listens. */
  #listening = false;
  /** Looks again now and then for turns a dead replica left (interrupted-turns.ts). */
  #lookAgain: NodeJS.Timeout | undefined;

  constructor(options: SlackAdapterOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ platform: "slack" });
    const { settings } = options;
    const logger = boltLogger(this.#logger);
    // Bolt's default retries a failed request for half an hour; a reply is worth a few quick tries.
    const clientOptions = { ...(settings.apiUrl === undefined ? {} : { slackApiUrl: settings.apiUrl }), retryConfig: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2_000 } };
    let receiver: Receiver;
    if (settings.appToken !== undefined) {
      receiver = new SocketModeReceiver({
        appToken: settings.appToken, logger,
        installerOptions: { clientOptions: { ...(settings.apiUrl === undefined ? {} : { slackApiUrl: settings.apiUrl }) } },
        ...(options.socketPingTimeoutMs === undefined ? {} : { clientPingTimeout: options.socketPingTimeoutMs }),
      });
    } else {
      receiver = new HTTPReceiver({ signingSecret: settings.signingSecret ?? "", logger, endpoints: "/slack/events" });
    }
    // Deferred: creating the adapter talks to nobody; `start` checks the token and connects.
    this.#receiver = receiver;
    this.#app = new App({ token: settings.botToken, receiver, logger, clientOptions, deferInitialization: true });
    this.#app.error(async (error) => {
      this.#logger.error({ err: error }, "a Slack event failed");
    });
    this.#skills = options.skillReview === undefined ? null : new SkillApprovals(options.skillReview, () => this.#client, this.#logger);
    this.#register();
  }

  /**
   * Checks the token and connects (Socket Mode) or listens (HTTP mode), then
   * posts a note in each thread whose question a crash left unanswered (and
   * looks again now and then, for a replica that died); a note that cannot
   * be posted is logged, and the adapter runs on.
   */
  async start(): Promise<void> {
    await this.#app.init();
    const { settings, httpHost } = this.#options;
    if (settings.appToken !== undefined) {
      await this.#app.start();
    } else {
      const server = (await this.#app.start(httpHost === undefined ? settings.httpPort : { port: settings.httpPort, host: httpHost })) as Server;
      this.#httpPort = (server.address() as AddressInfo).port;
      this.#listening = server.listening;
      server.on("close", () => { this.#listening = false; });
    }
    const tell = () => tellInterruptedTurns({ turns: this.#options.agent, client: this.#client, logger: this.#logger, now: Date.now() });
    await tell();
    let looking = false;
    this.#lookAgain = setInterval(() => {
      if (looking) return;
      looking = true;
      void tell().finally(() => { looking = false; });
    }, interruptedLookMs);
    this.#lookAgain.unref();
  }

  /** Socket Mode: its socket is open now; HTTP mode: it listens. */
  get connected(): boolean {
    if (this.#receiver instanceof SocketModeReceiver) return this.#receiver.client.websocket?.isActive() === true;
    return this.#listening;
  }

  /** HTTP mode's port once started (the one given, or the one the system chose for 0); undefined in Socket Mode. */
  get httpPort(): number | undefined {
    return this.#httpPort;
  }

  async stop(deadline = Date.now() + finishGraceMs): Promise<void> {
    clearInterval(this.#lookAgain);
    const waitMs = Math.max(0, Math.min(deadline - Date.now(), finishGraceMs));
    const settled = await within(Promise.allSettled([...this.#inFlight]), waitMs);
    if (settled === timedOut) this.#logger.warn({ posts: this.#inFlight.size }, "replies still posting at disconnect");
    await this.#app.stop();
  }

  get #client(): WebClient {
    return this.#app.client;
  }

  #register(): void {
    this.#app.assistant(new Assistant({
      threadStarted: async ({ say, setSuggestedPrompts }) => {
        await say("Hi! Ask me a question about data, and attach a CSV or spreadsheet if it is about one. I answer by writing and running Python.");
        await setSuggestedPrompts({
          title: "Try one of these",
          prompts: [
            { title: "Summarise a CSV", message: "Summarise the attached CSV: columns, types, missing values and a few statistics." },
            { title: "Plot a trend", message: "Plot the trend in the attached data over time." },
            { title: "Quick calculation", message: "What is the compound interest on 10,000 at 4% a year for 15 years?" },
          ],
        }).catch((error: unknown) => this.#logger.debug({ err: error }, "could not suggest prompts"));
      },
      userMessage: async ({ message, body, context, setTitle }) => {
        const post = toIncomingPost(message, teamOf(body, context), context.botUserId);
        if (post === null) return;
        if (!this.#threads.has(conversationKey(post.team, post.channel, post.rootTs))) {
          await setTitle(post.text.slice(0, 80) || "A question about data").catch((error: unknown) => this.#logger.debug({ err: error }, "could not set the thread's title"));
        }
        this.#dispatch(post);
      },
    }));
    this.#app.event("app_mention", async ({ event, body, context }) => {
      const post = toIncomingPost(event, teamOf(body, context), context.botUserId);
      if (post !== null) this.#dispatch(post);
    });
    this.#app.event("message", async ({ event, body, context }) => {
      const post = toIncomingPost(event, teamOf(body, context), context.botUserId);
      if (post !== null) this.#dispatch(post);
    });
    this.#app.command("/threadbook", async ({ command, ack }) => {
      const word = threadCommand(command.text ?? "");
      const asker = { team: command.team_id, channel: command.channel_id, user: command.user_id };
      if (!isAllowed(this.#options.settings, asker)) return void (await ack({ response_type: "ephemeral", text: refusedNote }));
      const threadTs = typeof command.thread_ts === "string" ? command.thread_ts : undefined;
      if (word === "help" || word === null) return void (await ack({ response_type: "ephemeral", text: helpText }));
      if (threadTs === undefined) {
        return void (await ack({ response_type: "ephemeral", text: `Say \`${word}\` in the thread instead: Slack does not tell apps which thread a command comes from.` }));
      }
      const key = conversationKey(asker.team, asker.channel, threadTs);
      if (word === "export") {
        await ack({ response_type: "ephemeral", text: "Exporting this thread as a notebook." });
        return uploadNotebook(this.#client, this.#options.agent, key, { channel: asker.channel, rootTs: threadTs, user: asker.user }, this.#logger);
      }
      await ack({ response_type: "ephemeral", text: await this.#control(word, key, asker.user) });
    });
    this.#app.action(stopActionId, async ({ ack, body }) => {
      await ack();
      const place = actionPlace(body);
      if (place === null) return;
      if (!isAllowed(this.#options.settings, place)) return this.#ephemeral(place.channel, place.user, place.rootTs, refusedNote);
      const key = conversationKey(place.team, place.channel, place.rootTs);
      if (!this.#options.agent.stop(key, `<@${place.user}>`)) await this.#ephemeral(place.channel, place.user, place.rootTs, "Nothing is running in this thread.");
    });
    this.#app.action(exportActionId, async ({ ack, body }) => {
      await ack();
      const place = actionPlace(body);
      if (place === null) return;
      if (!isAllowed(this.#options.settings, place)) return this.#ephemeral(place.channel, place.user, place.rootTs, refusedNote);
      await uploadNotebook(this.#client, this.#options.agent, conversationKey(place.team, place.channel, place.rootTs), place, this.#logger);
    });
    this.#app.action(feedbackActionId, async ({ ack, body, action }) => {
      await ack();
      const place = actionPlace(body);
      const value = (action as { value?: unknown }).value;
      if (place === null || typeof value !== "string") return;
      const match = /^(positive|negative):([A-Za-z0-9-]{1,64})$/.exec(value);
      if (match === null) return;
      const [, rating, turnId] = match as unknown as [string, "positive" | "negative", string];
      try {
        await this.#options.agent.recordFeedback(conversationKey(place.team, place.channel, place.rootTs), turnId, rating, slackUser(place.team, place.user));
      } catch (error) {
        this.#logger.warn({ err: error }, "could not record feedback");
      }
    });
    for (const [actionId, decision] of [[approveSkillActionId, "approved"], [rejectSkillActionId, "rejected"]] as const) {
      this.#app.action(actionId, async ({ ack, body, action }) => {
        await ack();
        const place = actionPlace(body);
        if (place === null || this.#skills === null) return;
        await this.#skills.decide({ ...place, value: (action as { value?: unknown }).value }, decision);
      });
    }
  }

  /** Runs the post's work after the ack, tracked so shutdown can wait for it; never throws. */
  #dispatch(post: IncomingPost): void {
    const work = this.#onPost(post).catch((error: unknown) => this.#logger.error({ err: error }, "a Slack post failed"));
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  async #onPost(post: IncomingPost): Promise<void> {
    const key = conversationKey(post.team, post.channel, post.rootTs);
    if (!post.direct && !post.mentionsBot && !(post.inThread && (await this.#knownThread(key)))) return;
    const event = eventKey(post.team, post.channel, post.ts);
    if (this.#recentEvents.has(event)) return;
    this.#recentEvents.add(event);
    if (!isAllowed(this.#options.settings, post)) {
      this.#logger.info({ user: post.user, channel: post.channel }, "refused a user who is not allowed");
      return this.#ephemeral(post.channel, post.user, post.inThread ? post.rootTs : undefined, refusedNote);
    }
    const command = post.files.length > 0 ? null : threadCommand(post.text);
    if (command === "help") return void (await this.#say(post, helpText));
    if (command === "export") return uploadNotebook(this.#client, this.#options.agent, key, { channel: post.channel, rootTs: post.rootTs, user: post.user }, this.#logger);
    if (command !== null) return void (await this.#say(post, await this.#control(command, key, post.user)));
    this.#threads.add(key);
    const view = new TurnView({ team: post.team, channel: post.channel, rootTs: post.rootTs, postTs: post.ts, user: post.user }, {
      client: this.#client, streaming: this.#options.settings.streaming, logger: this.#logger.child({ conversation: key }),
    });
    await view.showWorking();
    // Fetched by the core once the turn is admitted: a refused post downloads nothing.
    const files = incomingFiles(post.files, { botToken: this.#options.settings.botToken, apiUrl: this.#options.settings.apiUrl });
    const text = post.text !== "" ? post.text : "I attached a file. Have a look at it and tell me what is in it.";
    const reply = await this.#options.agent.handle(
      { conversationKey: key, eventKey: event, user: slackUser(post.team, post.user), direct: post.direct, text, attachments: [], files },
      { progress: chatSafeProgress(view) },
    );
    if (reply === null) return view.discard();
    await view.finish(chatSafeReply(reply));
    await this.#skills?.post({ team: post.team, channel: post.channel, rootTs: post.rootTs }, reply.proposedSkills);
  }

  /** A thread threadbook answered in before: by this process, or any earlier one (the store knows it). */
  async #knownThread(key: string): Promise<boolean> {
    if (this.#threads.has(key)) return true;
    const known = await this.#options.agent.knowsConversation(key).catch(() => false);
    if (known) this.#threads.add(key);
    return known;
  }

  async #control(command: "reset" | "stop", key: string, user: string): Promise<string> {
    if (command === "stop") return this.#options.agent.stop(key, `<@${user}>`) ? "Stopping." : "Nothing is running in this thread.";
    await this.#options.agent.reset(key, `<@${user}>`);
    return "Done: this thread's notebook starts afresh. Files you attached before must be attached again.";
  }

  async #say(post: IncomingPost, text: string): Promise<void> {
    await this.#client.chat.postMessage({ channel: post.channel, thread_ts: post.rootTs, text }).catch((error: unknown) => this.#logger.warn({ err: error }, "could not post to the thread"));
  }

  async #ephemeral(channel: string, user: string, threadTs: string | undefined, text: string): Promise<void> {
    await this.#client.chat.postEphemeral({ channel, user, text, ...(threadTs === undefined ? {} : { thread_ts: threadTs }) })
      .catch((error: unknown) => this.#logger.warn({ err: error }, "could not post an ephemeral note"));
  }
}

function slackUser(team: string, user: string): TurnUser {
  return { platform: "slack", id: user, workspace: team, displayName: null };
}

function teamOf(body: unknown, context: { teamId?: string }): string | undefined {
  const fromBody = (body as { team_id?: unknown }).team_id;
  return typeof fromBody === "string" ? fromBody : context.teamId;
}

/** Where a button was clicked: the thread of the message that carries it, and who clicked; never the button's own value. */
function actionPlace(body: unknown): { team: string; userTeam: string | undefined; channel: string; user: string; rootTs: string; messageTs: string } | null {
  const fields = body as { team?: { id?: unknown }; channel?: { id?: unknown }; user?: { id?: unknown; team_id?: unknown }; message?: { ts?: unknown; thread_ts?: unknown } };
  const team = fields.team?.id;
  const channel = fields.channel?.id;
  const user = fields.user?.id;
  const messageTs = fields.message?.ts;
  const rootTs = fields.message?.thread_ts ?? messageTs;
  if (typeof team !== "string" || typeof channel !== "string" || typeof user !== "string" || typeof rootTs !== "string" || typeof messageTs !== "string") return null;
  const userTeam = typeof fields.user?.team_id === "string" ? fields.user.team_id : undefined;
  return { team, userTeam, channel, user, rootTs, messageTs };
}
