/**
 * The adapter contract's driver for Discord: the bot wired as `threadbook
 * start` wires it (discord-bot.ts), against the Discord emulator, in this
 * process. The user, Ada, asks with
 * `/ask` in a channel (files as its attachment options), which opens the
 * conversation's thread; later questions are messages in that thread. She
 * reads progress from the status message's versions, presses its Stop
 * button, and uses `/reset` in the thread. A reply is read from the thread's
 * messages once the adapter's handlers are done, files downloaded as a user
 * would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DiscordAdapter } from "../../src/adapters/discord/discord-adapter.ts";
import type { Services } from "../../src/services.ts";
import type { AdapterDriver, AskedTurn, ContractSetup, SeenReply, SentFile } from "../adapter-contract.ts";
import { componentsV2Flag, DiscordEmulator, textDisplays, user, type ApiMessage, type RecordedCall } from "../emulators/discord-server.ts";
import { startDiscordBot } from "./discord-bot.ts";
import { seenReply } from "./discord-seen-reply.ts";
import { removeInstance, testInstance } from "./sandbox.ts";

const ada = user("100000000000000001", "Ada");

export async function startDiscordDriver(setup: ContractSetup): Promise<AdapterDriver> {
  const instance = testInstance();
  const root = mkdtempSync(join(tmpdir(), "threadbook-contract-discord-"));
  const discord = await DiscordEmulator.start();
  try {
    const { services, adapter } = await startDiscordBot({ discord, settings: setup.settings, dataDir: join(root, "data"), instance });
    return new DiscordDriver(discord, services, adapter, instance, root);
  } catch (error) {
    await discord.stop();
    await removeInstance(instance);
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

class DiscordDriver implements AdapterDriver {
  readonly stopperName = "Ada";
  readonly #discord: DiscordEmulator;
  readonly #services: Services;
  readonly #adapter: DiscordAdapter;
  readonly #instance: string;
  readonly #root: string;
  /** The conversation's thread, once the first /ask opened it. */
  #threadId: string | null = null;
  #turn: DiscordTurn | null = null;

  constructor(discord: DiscordEmulator, services: Services, adapter: DiscordAdapter, instance: string, root: string) {
    this.#discord = discord;
    this.#services = services;
    this.#adapter = adapter;
    this.#instance = instance;
    this.#root = root;
  }

  async ask(text: string, files: SentFile[] = []): Promise<AskedTurn> {
    const discord = this.#discord;
    const mark = discord.calls.length;
    const attachments = files.map((file) => discord.attachment(file.name, file.data));
    const earlier = new Set(this.#threadId === null ? [] : discord.messagesIn(this.#threadId).map((message) => message.id));
    if (this.#threadId === null) {
      if (attachments.length > 3) throw new Error("/ask takes at most three files");
      const options = [{ name: "question", type: 3, value: text }, ...attachments.map((file, index) => ({ name: index === 0 ? "file" : `file${index + 1}`, type: 11, value: file.id }))];
      const { token } = discord.command({ name: "ask", user: ada, options, attachments });
      const callback = await discord.waitFor((call) => call.path.endsWith(`/${token}/callback`));
      if (callback.body?.type !== 5) throw new Error(`/ask was answered with ${JSON.stringify(callback.body)}, not deferred`);
    } else {
      const threadId = this.#threadId;
      discord.post({ author: ada, channelId: threadId, content: text, attachments });
      // The typing indicator in the thread: the bot took the message.
      await discord.waitFor((call) => discord.calls.indexOf(call) >= mark && call.method === "POST" && call.path === `/channels/${threadId}/typing`);
    }
    const turn = new DiscordTurn(discord, mark, earlier, this.#threadId, this.#adapter.idle(), (threadId) => { this.#threadId ??= threadId; });
    this.#turn = turn;
    return turn;
  }

  /** Presses the Stop button on the running turn's status message, as shown to the user. */
  async stop(): Promise<void> {
    const status = this.#turn?.statusMessage();
    const button = status === undefined ? undefined : stopButtonOf(status);
    if (status === undefined || button === undefined) throw new Error("no status message with a Stop button is shown");
    const { token } = this.#discord.button({ user: ada, messageId: status.id, customId: button });
    const callback = await this.#discord.waitFor((call) => call.path.endsWith(`/${token}/callback`));
    if (callback.body?.type !== 6) throw new Error(`Stop stopped nothing: ${JSON.stringify(callback.body)}`);
  }

  async reset(): Promise<void> {
    if (this.#threadId === null) throw new Error("no thread to reset yet");
    const { token } = this.#discord.command({ name: "reset", user: ada, channelId: this.#threadId });
    const answer = await this.#discord.waitFor((call) => call.method === "PATCH" && call.path.includes(`/${token}/messages/@original`));
    if (!/reset this thread's session/.test(String(answer.body?.content))) throw new Error(`/reset failed: ${JSON.stringify(answer.body)}`);
  }

  async close(): Promise<void> {
    try {
      await this.#services.close();
      this.#discord.assertDone();
    } finally {
      await this.#discord.stop();
      await removeInstance(this.#instance);
      rmSync(this.#root, { recursive: true, force: true });
    }
  }
}

class DiscordTurn implements AskedTurn {
  readonly #discord: DiscordEmulator;
  readonly #mark: number;
  readonly #earlier: Set<string>;
  readonly #ended: Promise<void>;
  readonly #reply: Promise<SeenReply>;
  #threadId: string | null = null;
  #done = false;

  /** `threadId`: the conversation's thread when known; else the thread the status message is posted in. */
  constructor(discord: DiscordEmulator, mark: number, earlier: Set<string>, threadId: string | null, handled: Promise<void>, onThread: (threadId: string) => void) {
    this.#discord = discord;
    this.#mark = mark;
    this.#earlier = earlier;
    this.#threadId = threadId;
    void discord.waitFor((call) => this.#isProgress(call)).then((call) => {
      this.#threadId = call.path.split("/")[2] ?? null;
      if (this.#threadId !== null) onThread(this.#threadId);
    });
    this.#ended = handled.then(() => {
      this.#done = true;
      // A turn refused before it started posts no status: its thread is the one /ask opened.
      this.#threadId ??= discord.threads().at(-1)?.id ?? null;
      if (this.#threadId !== null) onThread(this.#threadId);
    });
    this.#reply = this.#ended.then(() => seenReply(this.#replyMessages()));
    // A turn whose reply nobody reads must not end the run with an unhandled rejection.
    this.#reply.catch(() => undefined);
  }

  waitForProgress(match: (text: string) => boolean): Promise<string> {
    const shown = this.progressSeen().find(match);
    if (shown !== undefined) return Promise.resolve(shown);
    if (this.#done) return Promise.reject(new Error(`the turn ended without that progress; seen:\n${this.progressSeen().join("\n---\n")}`));
    const seen = this.#discord.waitFor((call) => this.#isProgress(call) && match(statusText(call)));
    const ended = this.#ended.then(() => { throw new Error(`the turn ended without that progress; seen:\n${this.progressSeen().join("\n---\n")}`); });
    return Promise.race([seen.then(statusText), ended]);
  }

  progressSeen(): string[] {
    return this.#discord.calls.filter((call) => this.#isProgress(call)).map(statusText);
  }

  reply(): Promise<SeenReply> {
    return this.#reply;
  }

  /** The status message of this turn as it stands, while it shows a Stop button. */
  statusMessage(): ApiMessage | undefined {
    return this.#ownMessages().find((message) => stopButtonOf(message) !== undefined);
  }

  /** A version of a status message (it has a Stop button) posted or edited in a channel since the question. */
  #isProgress(call: RecordedCall): boolean {
    if (this.#discord.calls.indexOf(call) < this.#mark) return false;
    if (!/^\/channels\/\d+\/messages(\/\d+)?$/.test(call.path) || (call.method !== "POST" && call.method !== "PATCH")) return false;
    if (this.#threadId !== null && !call.path.startsWith(`/channels/${this.#threadId}/`)) return false;
    return JSON.stringify(call.body?.components ?? []).includes('"custom_id"');
  }

  #ownMessages(): ApiMessage[] {
    if (this.#threadId === null) return [];
    return this.#discord.messagesIn(this.#threadId).filter((message) =>
      !this.#earlier.has(message.id) && message.author.id === this.#discord.bot.id && (message.flags & componentsV2Flag) !== 0);
  }

  #replyMessages(): ApiMessage[] {
    const messages = this.#ownMessages();
    if (messages.length === 0) throw new Error("the turn ended without a reply in its thread");
    return messages;
  }
}

function statusText(call: RecordedCall): string {
  return textDisplays(call.body?.components ?? []).join("\n");
}

/** The custom id of a message's Stop button, as the user's client sends it when pressed. */
function stopButtonOf(message: ApiMessage): string | undefined {
  let found: string | undefined;
  const visit = (component: any) => {
    if (component.type === 2 && component.label === "Stop") found = component.custom_id;
    for (const child of component.components ?? []) visit(child);
  };
  for (const component of message.components) visit(component);
  return found;
}
