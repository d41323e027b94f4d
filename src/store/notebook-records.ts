/** Rows of the notebook's tables as records, for every database. */
import type { NotebookAttachment, NotebookCellRecord, NotebookFigure, NotebookTurnRecord } from "./notebook-store.ts";
import { integer, optionalText, text, type Row } from "./sqlite-rows.ts";
import { toUser } from "./store-records.ts";

export function toCell(row: Row, conversationKey: string, figures: NotebookFigure[]): NotebookCellRecord {
  const errorName = optionalText(row, "error_name");
  return {
    id: integer(row, "id"),
    conversationKey,
    turnId: text(row, "turn_id"),
    code: text(row, "code"),
    stdout: text(row, "stdout"),
    stderr: text(row, "stderr"),
    valueText: optionalText(row, "value_text"),
    valueHtml: optionalText(row, "value_html"),
    error: errorName === null ? null : { name: errorName, message: optionalText(row, "error_message") ?? "", traceback: optionalText(row, "error_traceback") ?? "" },
    figures,
    figuresOmitted: JSON.parse(text(row, "figures_omitted_json")) as string[],
  };
}

export function toNotebookTurn(row: Row, cells: NotebookCellRecord[]): NotebookTurnRecord {
  return {
    turnId: text(row, "id"),
    user: toUser(row),
    text: text(row, "text"),
    startedAt: integer(row, "started_at"),
    attachments: JSON.parse(text(row, "attachments_json")) as NotebookAttachment[],
    cells,
    answer: optionalText(row, "answer"),
  };
}
