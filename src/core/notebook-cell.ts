/**
 * What the conversation's notebook keeps of a turn: its question's
 * attachments, each cell's outputs as the sandbox gave them (stdout,
 * stderr, the value as text and, for a DataFrame, HTML, the error, the
 * figures' PNGs) and the answer. Text from the sandbox is already bounded by
 * its schema (runner-replies.ts); the code and the answer are bounded here,
 * and figures by a bound a figure and a bound a conversation: past them a
 * figure is named as left out rather than kept.
 */
import type { CellResult } from "../sandbox/sandbox.ts";
import type { NotebookAttachment, NotebookCellInput, NotebookFigure, NotebookStore } from "../store/notebook-store.ts";
import { headAndTail } from "./bounded-text.ts";

export const notebookBounds = {
  codeChars: 200_000,
  answerChars: 100_000,
  /** Attachments named with one question. */
  attachments: 50,
  attachmentNameChars: 240,
  /** The PNG bytes the notebook keeps of one conversation, figures of all its turns together. */
  conversationFigureBytes: 64 * 1024 * 1024,
} as const;

/**
 * The cell as the notebook keeps it. `pngs` holds the figures' bytes in
 * their order (figure-pngs.ts), null for one that could not be had;
 * `figureRoom` is what the conversation's figure bound leaves.
 */
export function notebookCell(conversationKey: string, turnId: string, code: string, result: CellResult, pngs: readonly (Buffer | null)[], figureRoom: number): NotebookCellInput {
  const figures: NotebookFigure[] = [];
  const figuresOmitted = [...result.figuresOmitted];
  let room = figureRoom;
  result.figures.forEach((figure, position) => {
    const png = pngs[position] ?? null;
    if (png === null || png.length > room) {
      figuresOmitted.push(figure.name);
      return;
    }
    room -= png.length;
    figures.push({ name: figure.name, png });
  });
  return {
    conversationKey,
    turnId,
    code: headAndTail(code, notebookBounds.codeChars),
    stdout: result.stdout,
    stderr: result.stderr,
    valueText: result.value,
    valueHtml: result.valueHtml,
    error: result.error === null ? null : { name: result.error.name, message: result.error.message, traceback: result.error.traceback },
    figures,
    figuresOmitted,
  };
}

/** Records the cell, its figures within what the conversation's bound leaves. */
export async function recordNotebookCell(notebook: NotebookStore, conversationKey: string, turnId: string, code: string, result: CellResult, pngs: readonly (Buffer | null)[]): Promise<void> {
  const held = result.figures.length > 0 ? await notebook.figureBytes(conversationKey) : 0;
  await notebook.recordCell(notebookCell(conversationKey, turnId, code, result, pngs, Math.max(0, notebookBounds.conversationFigureBytes - held)));
}

/** The attachments of a question, by the names the user gave them, bounded. */
export function notebookAttachments(attachments: readonly { name: string; data: Buffer }[]): NotebookAttachment[] {
  return attachments.slice(0, notebookBounds.attachments).map((attachment) => ({
    name: Array.from(attachment.name).slice(0, notebookBounds.attachmentNameChars).join(""),
    bytes: attachment.data.length,
  }));
}

/** The reply as the notebook's answer cell says it: its text, then what failed. */
export function notebookAnswer(text: string, error: string | null): string {
  const parts = [text.trim(), error === null ? "" : `**Error:** ${error}`].filter((part) => part !== "");
  return headAndTail(parts.join("\n\n"), notebookBounds.answerChars);
}
