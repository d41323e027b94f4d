/**
 * The pieces of a Reply as Slack shows them, whatever the delivery: the
 * answer's text with its notes, each cell's output, the files that carry
 * what is too long to show, and the feedback and Stop controls.
 */
import type { Reply, ReplyCell } from "../../core/turn.ts";
import { sectionChars } from "./slack-limits.ts";

/** Code and output longer than this are cut in a code message (a section block); the whole goes up as a file. */
export const inlineCodeChars = sectionChars - 20;
export const inlineOutputChars = sectionChars - 20;

export const stopActionId = "threadbook_stop";
export const feedbackActionId = "threadbook_feedback";
export const exportActionId = "threadbook_export";

/** The answer, then what the user should know: the error, files left out, attachments to send again. */
export function answerText(reply: Reply): string {
  const parts: string[] = [];
  if (reply.text.trim() !== "") parts.push(reply.text.trim());
  if (reply.error !== null) parts.push(`⚠️ ${reply.error}`);
  if (reply.filesOmitted.length > 0) parts.push(`Files left out (too many or too large): ${reply.filesOmitted.join(", ")}.`);
  if (reply.attachmentsNotPlaced.length > 0) {
    parts.push(`Nothing kept ${reply.attachmentsNotPlaced.join(", ")}: please attach ${reply.attachmentsNotPlaced.length === 1 ? "it" : "them"} again with your next message.`);
  }
  return parts.length > 0 ? parts.join("\n\n") : "(The model gave no answer.)";
}

/** Everything the cell printed, its value and its error, in that order. */
export function cellOutput(cell: ReplyCell): string {
  return [cell.stdout, cell.stderr, cell.value ?? "", cell.error ?? ""].map((part) => part.replace(/\s+$/, "")).filter((part) => part !== "").join("\n");
}

export function codeFileName(index: number): string {
  return `cell-${index}.py`;
}

export function outputFileName(index: number): string {
  return `cell-${index}-output.txt`;
}

export interface UploadFile {
  name: string;
  data: Buffer;
}

/** The cells (numbered from 1) whose code or output the thread showed cut, so they go up whole as files. */
export interface CutCells {
  code: Set<number>;
  output: Set<number>;
}

/** The files of a reply: code and output shown cut first, then the files the code made. */
export function replyUploads(reply: Reply, cut: CutCells): UploadFile[] {
  const uploads: UploadFile[] = [];
  reply.cells.forEach((cell, position) => {
    const index = position + 1;
    if (cut.code.has(index)) uploads.push({ name: codeFileName(index), data: Buffer.from(cell.code) });
    if (cut.output.has(index)) uploads.push({ name: outputFileName(index), data: Buffer.from(cellOutput(cell)) });
  });
  for (const file of reply.files) uploads.push({ name: file.name, data: file.data });
  return uploads;
}

export function feedbackBlock(turnId: string) {
  return {
    type: "context_actions" as const,
    elements: [{
      type: "feedback_buttons" as const,
      action_id: feedbackActionId,
      positive_button: { text: { type: "plain_text" as const, text: "Good answer" }, value: `positive:${turnId}` },
      negative_button: { text: { type: "plain_text" as const, text: "Bad answer" }, value: `negative:${turnId}` },
    }],
  };
}

export function stopBlock() {
  return {
    type: "actions" as const,
    elements: [{ type: "button" as const, action_id: stopActionId, text: { type: "plain_text" as const, text: "Stop" }, style: "danger" as const, value: "stop" }],
  };
}

/** Under the answer: uploads the thread as a Jupyter notebook. */
export function exportBlock() {
  return {
    type: "actions" as const,
    elements: [{ type: "button" as const, action_id: exportActionId, text: { type: "plain_text" as const, text: "Export notebook" }, value: "export" }],
  };
}
