/**
 * The notebook seam: what a conversation's export as a Jupyter notebook is
 * built from. The transcript the model sees is trimmed and holds no figures;
 * this keeps every turn's question, the attachments given with it, each
 * cell's outputs as the sandbox gave them (figures as PNG bytes) and the
 * answer, until the conversation is reset. The core bounds every field
 * before it is recorded; the store keeps what it is given.
 */
import type { UserRecord } from "./store.ts";

export interface NotebookAttachment {
  /** Its name in the session's working directory. */
  name: string;
  bytes: number;
}

export interface NotebookCellError {
  /** Exception class name, e.g. "KeyError". */
  name: string;
  message: string;
  /** The trimmed traceback; empty when there is none (a timeout, a lost session). */
  traceback: string;
}

export interface NotebookFigure {
  /** The PNG's file name in the session, e.g. "figure-3.png". */
  name: string;
  png: Buffer;
}

export interface NotebookCellInput {
  conversationKey: string;
  turnId: string;
  code: string;
  stdout: string;
  stderr: string;
  /** The last expression's rendering as text, if any. */
  valueText: string | null;
  /** The last expression as HTML (a DataFrame's table), when the sandbox gave one. */
  valueHtml: string | null;
  error: NotebookCellError | null;
  figures: NotebookFigure[];
  /** Figures the cell made that are not kept (over a bound), by name. */
  figuresOmitted: string[];
}

export interface NotebookCellRecord extends NotebookCellInput {
  /** Increases with every recorded cell. */
  id: number;
}

/** One turn as the notebook shows it. */
export interface NotebookTurnRecord {
  turnId: string;
  user: UserRecord;
  /** The question as the user wrote it. */
  text: string;
  startedAt: number;
  attachments: NotebookAttachment[];
  /** Its cells in the order they ran. */
  cells: NotebookCellRecord[];
  /** The reply's text; null while the turn runs, or when it ended before one was recorded. */
  answer: string | null;
}

export interface NotebookStore {
  /**
   * Opens the turn's place in the conversation's notebook, with the
   * attachments given with it. Rejects with a StoreError for an unknown turn.
   */
  recordTurn(turnId: string, attachments: readonly NotebookAttachment[]): Promise<void>;

  /** Adds a cell and its outputs to its turn (which recordTurn opened). */
  recordCell(input: NotebookCellInput): Promise<void>;

  /** Sets the turn's answer, replacing one recorded before. */
  recordAnswer(turnId: string, text: string): Promise<void>;

  /** The PNG bytes the conversation's notebook holds, for bounding what it keeps. */
  figureBytes(conversationKey: string): Promise<number>;

  /**
   * The conversation's notebook turns, oldest first; null when the store
   * knows no such conversation. Turns before its last reset are not in it.
   */
  loadNotebook(conversationKey: string): Promise<NotebookTurnRecord[] | null>;
}
