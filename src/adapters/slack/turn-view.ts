/**
 * One turn as the thread sees it. At once a sign of work (the assistant
 * status, or a reaction where Slack refuses the status); with the first
 * progress a status message with a Stop button; while the turn runs a
 * streamed message (chat.startStream / appendStream / stopStream) with a task
 * card per cell and per skill proposal, and the answer as the model writes it; at the end feedback
 * buttons, follow-up messages for an answer past one message, and the files.
 * Where streaming is off or refused, the status message is updated at most
 * once a second instead, and the answer comes as messages.
 */
import type { ChatStreamer, WebClient } from "@slack/web-api";
import { formatDuration } from "../../core/format-size.ts";
import type { Progress, ProgressEvent, Reply } from "../../core/turn.ts";
import type { Logger } from "../../log.ts";
import { cellTitle } from "./cell-title.ts";
import { proposalStatus, proposalSummary, proposalTaskId, proposalTitle } from "./proposal-step.ts";
import { answerText, cellOutput, codeFileName, exportBlock, feedbackBlock, inlineCodeChars, inlineOutputChars, outputFileName, replyUploads, stopBlock, type CutCells } from "./reply-parts.ts";
import { bounded, blocksPerMessage, markdownChars, overflowMessages, sectionChars, splitText, streamedMessageChars } from "./slack-limits.ts";
import { escapeFences, escapeText, inertLine } from "./slack-text.ts";

export interface ThreadTarget {
  team: string;
  channel: string;
  rootTs: string;
  /** The post that asked, for reactions. */
  postTs: string;
  user: string;
}

export interface TurnViewOptions {
  client: WebClient;
  streaming: boolean;
  logger: Logger;
}

/** The least time between two updates of the status message. */
const statusIntervalMs = 1_000;
/** A task card's code and output, within the streamed message's budget. */
const cardCodeChars = 2_000;
const cardOutputChars = 600;
/** A cell's line on the status message. */
const cellLineChars = 200;

export class TurnView implements Progress {
  readonly #target: ThreadTarget;
  readonly #client: WebClient;
  readonly #logger: Logger;
  #streamer: ChatStreamer | null;
  #streamStarted = false;
  /** Characters the streamed message may still take. */
  #budget = streamedMessageChars;
  /** Answer text not streamed for want of room, posted after the stream. */
  #overflow = "";
  /** The text streamed for the step being written; a step that goes on to run code was a remark. */
  #stepText = "";
  #step = -1;
  #cells = new Map<number, string>();
  /** Proposals started and not yet finished, by index, with their titles. */
  #proposalsOpen = new Map<number, string>();
  /** Each step's line on the status message (a cell or a proposal, in order, by task id), for when no stream shows the task cards. */
  #stepLines = new Map<string, string>();
  /** Cells whose code or output was shown cut (or not at all, for want of room): they go up whole as files. */
  #cut: CutCells = { code: new Set(), output: new Set() };
  #sign: "status" | "reaction" | null = null;
  #statusTs: string | null = null;
  #statusLine = "Working on it…";
  #statusShown = "";
  #statusAt = 0;
  #statusTimer: NodeJS.Timeout | undefined;
  #statusWrite: Promise<void> = Promise.resolve();
  #startedAt = performance.now();

  constructor(target: ThreadTarget, options: TurnViewOptions) {
    this.#target = target;
    this.#client = options.client;
    this.#logger = options.logger;
    this.#streamer = options.streaming
      ? options.client.chatStream({
        channel: target.channel,
        thread_ts: target.rootTs,
        recipient_team_id: target.team,
        recipient_user_id: target.user,
        task_display_mode: "timeline",
        buffer_size: 256,
      })
      : null;
  }

  /** The first sign of work: the thread's assistant status, or an hourglass on the post. */
  async showWorking(): Promise<void> {
    const { channel, rootTs, postTs } = this.#target;
    try {
      await this.#client.assistant.threads.setStatus({ channel_id: channel, thread_ts: rootTs, status: "is working…", loading_messages: ["Reading the question…", "Writing Python…", "Running cells…"] });
      this.#sign = "status";
    } catch (error) {
      this.#logger.debug({ err: error }, "no assistant status here; reacting instead");
      await this.#client.reactions.add({ channel, timestamp: postTs, name: "hourglass_flowing_sand" }).then(() => { this.#sign = "reaction"; }, (reactionError: unknown) => this.#logger.warn({ err: reactionError }, "could not show a sign of work"));
    }
  }

  /** The post was a duplicate: take the sign of work back. */
  async discard(): Promise<void> {
    await this.#clearSign(false);
  }

  async report(event: ProgressEvent): Promise<void> {
    if (this.#statusTs === null && event.type !== "turn-failed" && event.type !== "turn-finished") await this.#postStatus();
    switch (event.type) {
      case "queued":
        this.#setStatus(waitingLine(event.reason, event.ahead));
        return;
      case "turn-started":
        this.#setStatus("Working on it…");
        return;
      case "thinking":
        this.#setStatus(event.step === 0 ? "Thinking…" : "Thinking about the result…");
        return;
      case "model-busy":
        this.#setStatus(`The model service is busy; trying again in ${Math.max(1, Math.round(event.retryInMs / 1000))} s…`);
        return;
      case "cell-started": {
        this.#stepText = "";
        const title = cellTitle(event.index, event.code);
        this.#cells.set(event.index, title);
        // The title is the model's code: shown inert on the status message, which is mrkdwn.
        this.#stepLines.set(`cell-${event.index}`, `▸ ${inertLine(title, cellLineChars)}: running…`);
        this.#setStatus(`Running ${title}`);
        await this.#stream({ chunks: [{ type: "task_update", id: `cell-${event.index}`, title, status: "in_progress", details: this.#codeDetails(event.index, event.code) }] });
        return;
      }
      case "cell-finished": {
        const title = this.#cells.get(event.index) ?? `Cell ${event.index}`;
        // What the cell printed or raised: anything at all, so inert as well.
        this.#stepLines.set(`cell-${event.index}`, `${event.ok ? "✓" : "✗"} ${inertLine(`${title}: ${event.summary}`, cellLineChars)}`);
        this.#setStatus(`${title}: ${event.summary}`);
        await this.#stream({ chunks: [{ type: "task_update", id: `cell-${event.index}`, title, status: event.ok ? "complete" : "error", output: this.#take(event.summary.slice(0, cardOutputChars)) }] });
        return;
      }
      case "proposal-started": {
        this.#stepText = "";
        const title = proposalTitle(event.name);
        this.#proposalsOpen.set(event.index, title);
        this.#stepLines.set(proposalTaskId(event.index), `▸ ${title}: in progress…`);
        this.#setStatus(`${title}…`);
        await this.#stream({ chunks: [{ type: "task_update", id: proposalTaskId(event.index), title, status: "in_progress" }] });
        return;
      }
      case "proposal-finished": {
        this.#proposalsOpen.delete(event.index);
        const title = proposalTitle(event.name);
        const status = proposalStatus(event.outcome);
        const summary = proposalSummary(event.summary);
        this.#stepLines.set(proposalTaskId(event.index), `${status === "complete" ? "✓" : "✗"} ${title}: ${summary}`);
        this.#setStatus(`${title}: ${summary}`);
        await this.#stream({ chunks: [{ type: "task_update", id: proposalTaskId(event.index), title, status, output: this.#take(summary) }] });
        return;
      }
      case "answer-delta":
        if (event.step !== this.#step) {
          this.#step = event.step;
          this.#stepText = "";
        }
        this.#setStatus("Writing the answer…");
        await this.#streamMarkdown(event.text);
        return;
      case "files-ready":
        this.#setStatus(`Preparing ${event.files.length} file${event.files.length === 1 ? "" : "s"}…`);
        return;
      case "session":
      case "turn-finished":
      case "turn-failed":
        return;
    }
  }

  /** Shows the whole reply: the answer first, then code and output too long to show, then the files. */
  async finish(reply: Reply): Promise<void> {
    const text = answerText(reply);
    // A proposal the turn ended in the middle of (stopped, or failed) does not stay in progress.
    for (const [index, title] of this.#proposalsOpen) {
      this.#stepLines.set(proposalTaskId(index), `✗ ${title}: did not finish`);
      await this.#stream({ chunks: [{ type: "task_update", id: proposalTaskId(index), title, status: "error", output: this.#take("did not finish") }] });
    }
    this.#proposalsOpen.clear();
    if (this.#streamer !== null && (this.#streamStarted || reply.turnId !== null)) {
      for (const [position, cell] of reply.cells.entries()) {
        const index = position + 1;
        const output = cellOutput(cell);
        if (!this.#cells.has(index)) this.#cut.code.add(index);
        const shown = this.#take(output === "" ? "(no output)" : bounded(output, cardOutputChars, `the whole output is in ${outputFileName(index)}`));
        if (output.length > cardOutputChars || (shown === "" && output !== "")) this.#cut.output.add(index);
        await this.#stream({
          chunks: [{
            type: "task_update", id: `cell-${index}`, title: this.#cells.get(index) ?? cellTitle(index, cell.code),
            status: cell.error === null ? "complete" : "error", output: shown,
          }],
        });
      }
      const streamed = this.#stepText;
      await this.#streamMarkdown(text.startsWith(streamed) && streamed !== "" ? text.slice(streamed.length) : `${this.#streamStarted ? "\n\n" : ""}${text}`);
      if (this.#streamer !== null) {
        try {
          await this.#streamer.stop(reply.turnId === null ? {} : { blocks: [feedbackBlock(reply.turnId), exportBlock()] });
        } catch (error) {
          this.#logger.warn({ err: error }, "could not finish the streamed reply; sending the answer as messages");
          this.#streamer = null;
        }
      }
      if (this.#streamer !== null) {
        await this.#postAnswer(this.#overflow, null);
      } else {
        // Streaming broke on the way: the answer goes whole as messages.
        await this.#postAnswer(text, reply.turnId);
        if (reply.cells.length > 0) await this.#postCells(reply);
      }
      await this.#finishStatus(reply);
    } else {
      // The status message, with a line for every cell, is final before the answer goes below it.
      await this.#finishStatus(reply);
      await this.#postAnswer(text, reply.turnId);
      if (reply.cells.length > 0) await this.#postCells(reply);
    }
    await this.#upload(reply);
    await this.#clearSign(reply.error !== null);
  }

  #codeDetails(index: number, code: string): string {
    const shown = this.#take(`\`\`\`python\n${bounded(code, cardCodeChars, `the whole code is in ${codeFileName(index)}`)}\n\`\`\``);
    if (code.length > cardCodeChars || shown === "") this.#cut.code.add(index);
    return shown;
  }

  /** The text when the streamed message has room for it; an empty string when not. */
  #take(text: string): string {
    if (text.length > this.#budget) return "";
    this.#budget -= text.length;
    return text;
  }

  /** Streams answer text while the message has room; the rest waits in the overflow for follow-up messages. */
  async #streamMarkdown(text: string): Promise<void> {
    if (text === "") return;
    this.#stepText += text;
    if (this.#streamer === null) {
      this.#overflow += text;
      return;
    }
    const fits = this.#overflow === "" ? text.slice(0, Math.max(0, this.#budget)) : "";
    this.#budget -= fits.length;
    this.#overflow += text.slice(fits.length);
    for (const piece of fits === "" ? [] : splitText(fits, markdownChars)) {
      if (!(await this.#stream({ markdown_text: piece }))) return;
    }
  }

  /** Appends to the stream; false once streaming failed (it is not tried again for this turn). */
  async #stream(args: Parameters<ChatStreamer["append"]>[0]): Promise<boolean> {
    if (this.#streamer === null) return false;
    try {
      await this.#streamer.append(args);
      this.#streamStarted ||= this.#streamer.ts !== undefined;
      return true;
    } catch (error) {
      this.#logger.warn({ err: error }, "streaming the reply failed; the status message takes over");
      this.#streamer = null;
      this.#stepText = "";
      return false;
    }
  }

  /** Answer text as markdown messages: one piece a message, as a file when it would take too many. */
  async #postAnswer(text: string, turnId: string | null): Promise<void> {
    if (text === "" && turnId === null) return;
    let pieces = splitText(text, markdownChars);
    if (pieces.length > overflowMessages) {
      await this.#uploadFiles([{ name: "answer.md", data: Buffer.from(text) }], "The answer is too long for Slack's messages, so here it is whole as answer.md.");
      pieces = [`${pieces[0] ?? ""}\n\n(continued in answer.md)`];
    }
    for (const [position, piece] of pieces.entries()) {
      const last = position === pieces.length - 1;
      const blocks: object[] = piece.trim() === "" ? [] : [{ type: "markdown", text: piece }];
      if (last && turnId !== null) blocks.push(feedbackBlock(turnId), exportBlock());
      if (blocks.length === 0) continue;
      // The notification's text is mrkdwn: the model's words escaped there, so they cannot mention anyone.
      await this.#post({ text: escapeText(piece).slice(0, sectionChars) || "threadbook answered", blocks });
    }
  }

  /** Each cell's code and output as sections, fifty blocks a message; the long ones go up as files too. */
  async #postCells(reply: Reply): Promise<void> {
    const blocks: object[] = [];
    const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });
    reply.cells.forEach((cell, position) => {
      const index = position + 1;
      // mrkdwn: the code, its title and its output are escaped (no mention, link or closing fence), before they are bounded,
      // so the escapes cannot push a section past Slack's limit.
      blocks.push(section(`*${escapeText(this.#cells.get(index) ?? cellTitle(index, cell.code))}* (${formatDuration(cell.durationMs)}${cell.error === null ? "" : ", failed"})`));
      const code = escapeFences(escapeText(cell.code));
      blocks.push(section(fence(bounded(code, inlineCodeChars, `the whole code is in ${codeFileName(index)}`))));
      if (code.length > inlineCodeChars) this.#cut.code.add(index);
      const output = escapeFences(escapeText(cellOutput(cell)));
      if (output !== "") blocks.push(section(fence(bounded(output, inlineOutputChars, `the whole output is in ${outputFileName(index)}`))));
      if (output.length > inlineOutputChars) this.#cut.output.add(index);
    });
    for (let start = 0; start < blocks.length; start += blocksPerMessage) {
      await this.#post({ text: `The code of ${reply.cells.length} cell${reply.cells.length === 1 ? "" : "s"}`, blocks: blocks.slice(start, start + blocksPerMessage) });
    }
  }

  async #upload(reply: Reply): Promise<void> {
    const uploads = replyUploads(reply, this.#cut);
    if (uploads.length > 0) await this.#uploadFiles(uploads);
  }

  async #uploadFiles(files: { name: string; data: Buffer }[], comment?: string): Promise<void> {
    try {
      await this.#client.filesUploadV2({
        channel_id: this.#target.channel,
        thread_ts: this.#target.rootTs,
        ...(comment === undefined ? {} : { initial_comment: comment }),
        file_uploads: files.map((file) => ({ file: file.data, filename: file.name, title: file.name })),
      });
    } catch (error) {
      this.#logger.warn({ err: error, files: files.length }, "could not upload the reply's files");
      await this.#post({ text: `Could not upload ${files.map((file) => file.name).join(", ")} to Slack. The details are in threadbook's log.` });
    }
  }

  async #post(message: { text: string; blocks?: object[] }): Promise<string | null> {
    try {
      const result = await this.#client.chat.postMessage({ channel: this.#target.channel, thread_ts: this.#target.rootTs, text: message.text, ...(message.blocks === undefined ? {} : { blocks: message.blocks as never }) });
      return result.ts ?? null;
    } catch (error) {
      this.#logger.warn({ err: error }, "could not post to the thread");
      return null;
    }
  }

  async #postStatus(): Promise<void> {
    this.#statusTs = "";
    this.#statusShown = this.#statusLine;
    this.#statusAt = performance.now();
    this.#statusTs = await this.#post({ text: this.#statusLine, blocks: [statusSection(this.#statusLine), stopBlock()] });
  }

  /**
   * Shows the line on the status message, at most once a second when
   * streaming is off; streamed turns show it only while they wait, and say
   * they work again once a wait is over.
   */
  #setStatus(line: string): void {
    if (this.#streamer !== null && !line.startsWith("Waiting")) {
      if (!this.#statusLine.startsWith("Waiting")) return;
      line = "Working on it…";
    }
    this.#statusLine = line;
    if (this.#statusTimer !== undefined) return;
    const wait = Math.max(0, this.#statusAt + statusIntervalMs - performance.now());
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      this.#statusWrite = this.#statusWrite.then(() => this.#writeStatus(this.#statusLine, true));
    }, wait);
  }

  async #writeStatus(line: string, withStop: boolean): Promise<void> {
    const text = this.#statusText(line);
    if (this.#statusTs === null || this.#statusTs === "" || (text === this.#statusShown && withStop)) return;
    this.#statusShown = text;
    this.#statusAt = performance.now();
    const blocks = withStop ? [statusSection(text), stopBlock()] : [statusSection(text)];
    await this.#client.chat.update({ channel: this.#target.channel, ts: this.#statusTs, text, blocks }).catch((error: unknown) => this.#logger.warn({ err: error }, "could not update the status message"));
  }

  /**
   * The status message's text: the line, then, while no stream shows task
   * cards, a line for each cell and proposal so far (the latest that fit), so
   * a step that ran between two updates still shows.
   */
  #statusText(line: string): string {
    if (this.#streamer !== null || this.#stepLines.size === 0) return line;
    const steps = [...this.#stepLines.values()];
    const kept: string[] = [];
    let room = sectionChars - line.length - 40;
    for (const stepLine of steps.toReversed()) {
      if (stepLine.length + 1 > room) break;
      kept.unshift(stepLine);
      room -= stepLine.length + 1;
    }
    const hidden = steps.length - kept.length;
    return [line, ...(hidden > 0 ? [`… ${hidden} earlier step${hidden === 1 ? "" : "s"}`] : []), ...kept].join("\n");
  }

  async #finishStatus(reply: Reply): Promise<void> {
    clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
    await this.#statusWrite;
    const took = formatDuration(performance.now() - this.#startedAt);
    const cells = `${reply.cells.length} cell${reply.cells.length === 1 ? "" : "s"}`;
    const line = reply.error !== null ? `Did not finish (${took}).` : reply.stoppedBy !== null ? `Stopped by ${reply.stoppedBy} after ${cells} (${took}).` : `Done: ${cells} in ${took}.`;
    await this.#writeStatus(line, false);
  }

  async #clearSign(failed: boolean): Promise<void> {
    const { channel, rootTs, postTs } = this.#target;
    if (this.#sign === "status") {
      await this.#client.assistant.threads.setStatus({ channel_id: channel, thread_ts: rootTs, status: "" }).catch(() => undefined);
    } else if (this.#sign === "reaction") {
      await this.#client.reactions.remove({ channel, timestamp: postTs, name: "hourglass_flowing_sand" }).catch(() => undefined);
    }
    this.#sign = null;
    if (failed) await this.#client.reactions.add({ channel, timestamp: postTs, name: "warning" }).catch(() => undefined);
  }
}

function statusSection(line: string) {
  return { type: "section", text: { type: "mrkdwn", text: line.slice(0, sectionChars) } };
}


/** Text already escaped, as a code block: 8 characters more than the text. */
function fence(escaped: string): string {
  return `\`\`\`\n${escaped}\n\`\`\``;
}

/** What a waiting turn's status message says: what it waits for, and how many are ahead. */
function waitingLine(reason: "conversation" | "capacity" | "cpu", ahead: number): string {
  if (reason === "conversation") return "Waiting for this thread's earlier question to finish…";
  if (reason === "capacity") return `Waiting for a free Python session (${ahead} question${ahead === 1 ? "" : "s"} ahead)…`;
  return `Waiting for a free CPU (${ahead} ahead)…`;
}
