/**
 * Progress in the thread: the typing indicator from the moment the core
 * takes the turn (its first `queued` or `turn-started`, after it claimed
 * the event, so a duplicate delivery shows nothing) and every few seconds,
 * and one status message (posted then too, before any cell) that lists the
 * cells as they run, with the running cell's code, and the model's skill
 * proposals (proposal-line.ts), in the order they came, and a Stop button. It is edited only when what it shows changes, within
 * Discord's edit rate (edit-budget.ts). The answer replaces it.
 */
import { ButtonStyle, ComponentType, MessageFlags, type APIActionRowComponent, type APIComponentInMessageActionRow, type APIContainerComponent, type Message, type SendableChannels } from "discord.js";
import { headAndTail } from "../../core/bounded-text.ts";
import type { Progress, ProgressEvent } from "../../core/turn.ts";
import type { Logger } from "../../log.ts";
import { fenced } from "./code-block.ts";
import { EditBudget } from "./edit-budget.ts";
import { accentColours, messageLimits } from "./message-limits.ts";
import { proposalLineText, type ProposalLine } from "./proposal-line.ts";
import type { OutgoingMessage } from "./reply-messages.ts";
import { plainLine } from "./untrusted-text.ts";

/** Typing lasts 10 s on Discord's side; renewed a little before. */
const typingIntervalMs = 8_000;
/** The Stop button's custom id; the conversation is the channel it is pressed in. */
export const stopButtonId = "threadbook:stop";
/** Lines (cells and proposals) listed at most; earlier ones are counted. */
const shownLines = 12;
const summaryChars = 120;
/** The running cell's code shown up to this (head and tail when longer). */
const runningCodeChars = 800;

interface CellLine {
  kind: "cell";
  index: number;
  state: "running" | "done" | "failed";
  summary: string;
  code: string;
}

type StatusLine = CellLine | ({ kind: "proposal" } & ProposalLine);

type StatusPayload = { components: [APIContainerComponent, APIActionRowComponent<APIComponentInMessageActionRow>]; flags: MessageFlags.IsComponentsV2 };

export class StatusMessage implements Progress {
  readonly #channel: SendableChannels;
  readonly #logger: Logger;
  readonly #budget = new EditBudget();
  #message: Message | undefined;
  /** Posts and edits in the order they were decided. */
  #chain: Promise<void> = Promise.resolve();
  #postQueued = false;
  /** The text of the last version posted or queued; an unchanged version is not sent. */
  #queuedText = "";
  #timer: NodeJS.Timeout | undefined;
  #typing: NodeJS.Timeout | undefined;
  #finished = false;
  #headline = "Working on it…";
  readonly #lines: StatusLine[] = [];
  /** Resolves when the status message is first posted, for benchmarks and tests. */
  readonly posted: Promise<void>;
  #markPosted!: () => void;

  constructor(channel: SendableChannels, logger: Logger) {
    this.#channel = channel;
    this.#logger = logger;
    this.posted = new Promise((resolve) => (this.#markPosted = resolve));
  }

  report(event: ProgressEvent): void {
    if (this.#finished) return;
    if (event.type === "queued" || event.type === "turn-started") this.#startTyping();
    switch (event.type) {
      case "queued":
        this.#headline = event.reason === "capacity"
          ? `Waiting for a free Python session${event.ahead > 0 ? ` (${event.ahead} ahead)` : ""}…`
          : event.reason === "cpu"
            ? `Waiting for a free CPU${event.ahead > 0 ? ` (${event.ahead} ahead)` : ""}…`
            : `Waiting for the question before this one${event.ahead > 0 ? ` (${event.ahead} ahead)` : ""}…`;
        break;
      case "turn-started":
      case "thinking":
        this.#headline = "Working on it…";
        break;
      case "model-busy":
        this.#headline = `The model service is busy; trying again in ${Math.max(1, Math.round(event.retryInMs / 1000))} s…`;
        break;
      case "cell-started":
        this.#headline = `Running cell ${event.index}…`;
        this.#lines.push({ kind: "cell", index: event.index, state: "running", summary: "", code: event.code });
        break;
      case "cell-finished": {
        const line = this.#lines.find((entry): entry is CellLine => entry.kind === "cell" && entry.index === event.index);
        if (line !== undefined) {
          line.state = event.ok ? "done" : "failed";
          // What the cell printed or raised: anything at all, so its markdown and mentions are made inert.
          line.summary = plainLine(event.summary, summaryChars);
        }
        this.#headline = "Working on it…";
        break;
      }
      case "proposal-started":
        this.#headline = "Proposing a skill…";
        this.#lines.push({ kind: "proposal", index: event.index, name: event.name, state: "running", summary: "" });
        break;
      case "proposal-finished": {
        const line = this.#lines.find((entry): entry is StatusLine & { kind: "proposal" } => entry.kind === "proposal" && entry.index === event.index);
        if (line !== undefined) {
          line.name = event.name;
          line.state = event.outcome;
          line.summary = event.summary;
        }
        this.#headline = "Working on it…";
        break;
      }
      default:
        return;
    }
    this.#update();
  }

  /**
   * Stops the typing and edits not yet due, lets those already on their way
   * land, and puts the reply's first message in the status message's place;
   * the rest follow.
   */
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

  /**
   * Shows the current state: the first version is posted at once (the user
   * sees the turn was taken); a changed one is sent now when the budget
   * allows, else when it does. What is sent is decided now, in order.
   */
  #update(): void {
    if (this.#finished || this.#timer !== undefined) return;
    const payload = this.#payload();
    const text = payloadText(payload);
    if (text === this.#queuedText) return;
    if (!this.#postQueued) {
      this.#postQueued = true;
      this.#queue(payload, text);
      return;
    }
    const wait = this.#budget.wait();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#update();
      }, wait);
      return;
    }
    this.#budget.spend();
    this.#queue(payload, text);
  }

  #queue(payload: StatusPayload, text: string): void {
    this.#queuedText = text;
    this.#chain = this.#chain.then(async () => {
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
    });
  }

  #payload(): StatusPayload {
    return { components: [this.#render(), stopRow()], flags: MessageFlags.IsComponentsV2 };
  }

  #render(): APIContainerComponent {
    const headline = `**${this.#headline}**`;
    let earlier = Math.max(0, this.#lines.length - shownLines);
    const lines = this.#lines.slice(earlier).map(lineText);
    // Within Discord's text limit however long the lines: the earliest go first.
    while (lines.length > 1 && [headline, earlierNote(earlier + 1), ...lines].join("\n").length > messageLimits.textChars) {
      lines.shift();
      earlier += 1;
    }
    const text = [headline, ...(earlier > 0 ? [earlierNote(earlier)] : []), ...lines].join("\n");
    const failed = this.#lines.some((line) => line.state === "failed" || line.state === "refused");
    return {
      type: ComponentType.Container,
      accent_color: failed ? accentColours.failed : accentColours.working,
      components: [{ type: ComponentType.TextDisplay, content: text }],
    };
  }

  /** The first sign of work: the turn was taken, not refused nor dropped as a duplicate. */
  #startTyping(): void {
    if (this.#typing !== undefined) return;
    this.#sendTyping();
    this.#typing = setInterval(() => this.#sendTyping(), typingIntervalMs);
    this.#typing.unref();
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

function lineText(line: StatusLine): string {
  if (line.kind === "proposal") return proposalLineText(line);
  const mark = line.state === "running" ? "⏳" : line.state === "done" ? "✅" : "❌";
  if (line.state !== "running") return `${mark} Cell ${line.index}: ${line.summary}`;
  return `${mark} Cell ${line.index}: running\n${fenced(headAndTail(line.code.trimEnd(), runningCodeChars), "python")}`;
}

function earlierNote(count: number): string {
  return `… ${count} earlier line${count === 1 ? "" : "s"}`;
}

function payloadText(payload: StatusPayload): string {
  return JSON.stringify(payload.components[0]);
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
