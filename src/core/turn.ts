/**
 * The neutral shapes every adapter speaks: a `Turn` comes in, a `Reply` goes
 * out, and `ProgressEvent`s report what happens in between. Nothing here
 * knows a chat platform.
 */

export interface Attachment {
  /** The file's name as the user gave it; sanitised before it enters a session. */
  name: string;
  data: Buffer;
}

/**
 * A file the user gave, not fetched yet: the core fetches it once the turn
 * is admitted (file-downloads.ts), so a refused post costs no download.
 */
export interface IncomingFile {
  /** The file's name as the user gave it. */
  name: string;
  /** Its size as the platform states it; the bytes are counted again as they arrive. */
  bytes: number;
  /**
   * Starts the download. Throws a ThreadbookError whose message is for the
   * user when the platform does not hand the file over; `signal` ends it.
   */
  open(signal: AbortSignal): Promise<IncomingBody>;
}

export interface IncomingBody {
  body: AsyncIterable<Uint8Array>;
  /** The length the response states, when it states one. */
  statedBytes: number | null;
}

/** Who asked; recorded with the turn and, as "platform:id" with the workspace, in the audit log of cell runs. */
export interface TurnUser {
  /** "slack", "discord" or "cli". */
  platform: string;
  /** The user's id on the platform, e.g. "U123"; the local user name for the CLI. */
  id: string;
  /** The Slack team or Discord guild; null for the CLI. */
  workspace: string | null;
  /** The name to show for the user, when known. */
  displayName: string | null;
}

export interface Turn {
  /** Identifies the conversation, e.g. "slack:T1:C1:1700000000.000100". */
  conversationKey: string;
  /**
   * Identifies the platform event that asked (Slack: team, channel and
   * message ts; Discord: the interaction or message id). The core claims it
   * before anything runs, so a retried or duplicate delivery runs once, also
   * across restarts. None for the CLI, whose every line is a new question.
   */
  eventKey?: string;
  user: TurnUser;
  /**
   * A direct message (a Slack DM or AI-app pane, a Discord DM): only its
   * asker takes part, so what the turn proposes is scoped to them alone.
   */
  direct?: boolean;
  text: string;
  attachments: Attachment[];
  /** Files to fetch once the turn is admitted; they join `attachments`, after them. */
  files?: IncomingFile[];
}

export interface ReplyCell {
  code: string;
  stdout: string;
  stderr: string;
  /** Rendering of the last expression, if any. */
  value: string | null;
  /** Trimmed traceback, or a note that the cell timed out; null when it ran clean. */
  error: string | null;
  durationMs: number;
}

export interface ReplyFile {
  name: string;
  bytes: number;
  data: Buffer;
  /** A figure or other image, shown inline where the platform can. */
  image: boolean;
  /** e.g. "image/png", "text/csv"; "application/octet-stream" when unknown. */
  mediaType: string;
}

/** Which per-turn limit, or daily token budget ("budget"), ended the turn early. */
export type LimitName = "steps" | "cells" | "time" | "tokens" | "budget";

export interface Reply {
  /** The answer, or what was done when a limit or an error ended the turn. */
  text: string;
  cells: ReplyCell[];
  files: ReplyFile[];
  limit: LimitName | null;
  /**
   * A plain message for the user when the machinery failed, or when the turn
   * was refused before it ran (the bot is busy, the user is over a limit);
   * null otherwise.
   */
  error: string | null;
  /** Files left out of `files` (over the count or size bound, or figures past a cell's ten), named so the user knows. */
  filesOmitted: string[];
  /** Who stopped the turn (a Stop button, `/stop`, a reset) when a person did; null otherwise. */
  stoppedBy: string | null;
  /** The turn's id in the store, e.g. to record feedback on it; null when it was refused before it was recorded. */
  turnId: string | null;
  /**
   * The turn's attachments, by the names the user gave, when the turn failed
   * before they reached the session: nothing kept them, so they must be sent
   * again. Empty once they were put in (they are then kept with the conversation).
   */
  attachmentsNotPlaced: string[];
  /**
   * Skills the model proposed in this turn and the library stored: the reply's
   * text already says "Proposed skill `x`: waiting for approval" for each. An
   * adapter offers approvers a way to decide the ones still `proposed`.
   */
  proposedSkills: ProposedSkill[];
}

/** A skill version the model proposed during a turn, as stored. */
export interface ProposedSkill {
  /** The stored version's id: what an approve or reject control carries. */
  id: number;
  name: string;
  /** "global", "slack:<team>", "discord:<guild>", or in a direct message its author's own ("slack:<team>:user:<user>", "discord:user:<user>"). */
  scope: string;
  version: number;
  description: string;
  /** "proposed": waits for an approver; "approved": approved at once (THREADBOOK_SKILLS_AUTO_APPROVE). */
  status: "proposed" | "approved";
}

export type ProgressEvent =
  /**
   * The turn waits: before it starts, behind the conversation's earlier turns
   * ("conversation") or for one of the bot's turn slots, one a Python session
   * ("capacity"); once started, for a free CPU ("cpu") to start its session
   * or run its next cell (before that cell's `cell-started`). `ahead` wait before it (0: it
   * is next); reported again each time that changes.
   */
  | { type: "queued"; ahead: number; reason: "conversation" | "capacity" | "cpu" }
  | { type: "turn-started" }
  | { type: "session"; origin: "new" | "resumed" | "lost" }
  | { type: "thinking"; step: number }
  /**
   * The model service is rate-limiting (429): model step `step` is tried
   * again in `retryInMs`, as the service asked, within the turn's time.
   */
  | { type: "model-busy"; step: number; retryInMs: number }
  /**
   * A piece of the text the model is writing in `step`, as it streams in (only
   * when the model client streams). Joined, a step's pieces are its text; when
   * the step goes on to run code, that text was a remark on the way, and the
   * answer comes in a later step. `Reply.text` is the final word.
   */
  | { type: "answer-delta"; step: number; text: string }
  /** `index` numbers the turn's cells from 1, in the order of `Reply.cells`. */
  | { type: "cell-started"; index: number; code: string }
  | { type: "cell-finished"; index: number; ok: boolean; summary: string; durationMs: number }
  /**
   * The model proposes a skill (its `index`-th proposal call of the turn);
   * `name` as its arguments give it, or null when they cannot be read.
   */
  | { type: "proposal-started"; index: number; name: string | null }
  /** Stored (waiting for approval, or approved at once), refused by a rule (the model may fix it), or failed; `summary` says which in a few words. */
  | { type: "proposal-finished"; index: number; name: string | null; outcome: "proposed" | "approved" | "refused" | "failed"; summary: string }
  | { type: "files-ready"; files: { name: string; bytes: number }[] }
  | { type: "turn-finished"; reply: Reply }
  | { type: "turn-failed"; message: string };

/** Implemented by each adapter to show progress while a turn runs. Must not throw. */
export interface Progress {
  report(event: ProgressEvent): void | Promise<void>;
}

export const silentProgress: Progress = { report() {} };
