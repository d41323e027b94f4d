/**
 * Progress in the thread: the typing indicator at once and every few
 * seconds, and one status message (posted when the turn is taken, before
 * any cell) that lists the cells as they run, edited at most once every
 * 1.5 s, with a Stop button. The answer replaces it.
 */
import { ButtonStyle, ComponentType, MessageFlags, type APIActionRowComponent, type APIComponentInMessageActionRow, type APIContainerComponent, type Message, type SendableChannels } from "discord.js";
import type { Progress, ProgressEvent } from "../../core/turn.ts";
import type { Logger } from "../../log.ts";
import { accentColours } from "./message-limits.ts";
import type { OutgoingMessage } from "./reply-messages.ts";

/** Discord allows about five edits of a message in five seconds; one every 1.5 s stays clear of it. */
export const statusEditIntervalMs = 1_500;
/** Typing lasts 10 s on Discord's side; renewed a little before. */
const typingIntervalMs = 8_000;
/** The Stop button's custom id; the conversation is the channel it is pressed in. */
export const stopButtonId = "threadbook:stop";
/** Cells listed at most; earlier ones are counted. */
const shownCells = 12;
const summaryChars = 120;

interface CellLine {
  index: number;
  state: "running" | "done" | "failed";
  summary: string;
}

export class StatusMessage implements Progress {
  readonly #channel: SendableChannels;
  readonly #logger: Logger;
  #message: Message | undefined;
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #typing: NodeJS.Timeout | undefined;
  #lastEditAt = 0;
  #finished = false;
  #headline = "Working on it…";
  readonly #cells: CellLine[] = [];
  /** Resolves when the status message is first posted, for benchmarks and tests. */
  readonly posted: Promise<void>;
  #markPosted!: () => void;

  constructor(channel: SendableChannels, logger: Logger) {
    this.#channel = channel;
    this.#logger = logger;
    this.posted = new Promise((resolve) => (this.#markPosted = resolve));
    this.#sendTyping();
    this.#typing = setInterval(() => this.#sendTyping(), typingIntervalMs);
    this.#typing.unref();
  }

  report(event: ProgressEvent): void {
    if (this.#finished) return;
    switch (event.type) {
      case "queued":
        this.#headline = event.reason === "capacity"
          ? `Waiting for a free slot${event.ahead > 0 ? ` (${event.ahead} ahead)` : ""}…`
          : `Waiting for the question before this one${event.ahead > 0 ? ` (${event.ahead} ahead)` : ""}…`;
        break;
      case "turn-started":
      case "thinking":
        this.#headline = "Working on it…";
        break;
      case "cell-started":
        this.#headline = `Running cell ${event.index}…`;
        this.#cells.push({ index: event.index, state: "running", summary: "" });
        break;
      case "cell-finished": {
        const line = this.#cells.find((cell) => cell.index === event.index);
        if (line !== undefined) {
          line.state = event.ok ? "done" : "failed";
          line.summary = oneLine(event.summary);
        }
        this.#headline = "Working on it…";
        break;
      }
      default:
        return;
    }
    if (this.#message === undefined && this.#timer === undefined) {
      // The first event posts at once: the user sees the turn was taken.
      this.#timer = setTimeout(() => this.#flush(), 0);
      return;
    }
    this.#schedule();
  }

  /** Stops the typing and pending edits, and puts the reply's first message in the status message's place; the rest follow. */
  async finish(messages: OutgoingMessage[]): Promise<void> {
    this.#finished = true;
    this.#stopTimers();
    await this.#chain;
    const [first, ...rest] = messages;
    if (first !== undefined) {
      const payload = { flags: MessageFlags.IsComponentsV2 as const, components: [first.container], files: first.files.map(toAttachment) };
      if (this.#message === undefined) await this.#channel.send(payload);
      else await this.#message.edit({ ...payload, attachments: [] });
    }
    for (const message of rest) {
      await this.#channel.send({ flags: MessageFlags.IsComponentsV2, components: [message.container], files: message.files.map(toAttachment) });
    }
  }

  /** When no reply comes (a duplicate event): no status is left behind. */
  abandon(): void {
    this.#finished = true;
    this.#stopTimers();
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#lastEditAt + statusEditIntervalMs - Date.now());
    this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#timer = undefined;
    this.#chain = this.#chain.then(async () => {
      if (this.#finished) return;
      const payload = { components: [this.#render(), stopRow()], flags: MessageFlags.IsComponentsV2 as const };
      try {
        if (this.#message === undefined) {
          this.#message = await this.#channel.send(payload);
          this.#markPosted();
        } else {
          await this.#message.edit(payload);
        }
      } catch (error) {
        this.#logger.warn({ err: error }, "could not post the status message");
      }
      this.#lastEditAt = Date.now();
    });
  }

  #render(): APIContainerComponent {
    const earlier = Math.max(0, this.#cells.length - shownCells);
    const lines = this.#cells.slice(earlier).map((cell) => {
      const mark = cell.state === "running" ? "⏳" : cell.state === "done" ? "✅" : "❌";
      const what = cell.state === "running" ? "running" : cell.summary;
      return `${mark} Cell ${cell.index}: ${what}`;
    });
    if (earlier > 0) lines.unshift(`… ${earlier} earlier cells`);
    const text = [`**${this.#headline}**`, ...lines].join("\n");
    const failed = this.#cells.some((cell) => cell.state === "failed");
    return {
      type: ComponentType.Container,
      accent_color: failed ? accentColours.failed : accentColours.working,
      components: [{ type: ComponentType.TextDisplay, content: text }],
    };
  }

  #sendTyping(): void {
    this.#channel.sendTyping().catch((error: unknown) => this.#logger.debug({ err: error }, "typing indicator failed"));
  }

  #stopTimers(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#typing);
    this.#typing = undefined;
  }
}

function stopRow(): APIActionRowComponent<APIComponentInMessageActionRow> {
  return {
    type: ComponentType.ActionRow,
    components: [{ type: ComponentType.Button, style: ButtonStyle.Danger, custom_id: stopButtonId, label: "Stop" }],
  };
}

function toAttachment(file: { name: string; data: Buffer }) {
  return { attachment: file.data, name: file.name };
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > summaryChars ? `${line.slice(0, summaryChars - 1)}…` : line;
}
