/**
 * A conversation as a Jupyter notebook (nbformat 4.5, with cell ids), laid
 * out as Jupyter would have shown the same work: for each turn a Markdown
 * cell with who asked and the attachments they gave, a code cell for each
 * cell that ran, with its outputs (`stream` for stdout then stderr,
 * `execute_result` with `text/plain` and, for a DataFrame, `text/html`,
 * `error` with the traceback, then `display_data` with `image/png` for each
 * figure, as Jupyter's inline figures follow the cell's own output), and a
 * Markdown cell with the answer. Pure: the store's records in, JSON out.
 */
import type { NotebookCellRecord, NotebookTurnRecord } from "../store/notebook-store.ts";
import { formatBytes } from "./format-size.ts";

export const notebookFormat = { major: 4, minor: 5 } as const;

type Lines = string[];

export type NotebookOutput =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: Lines }
  | { output_type: "execute_result"; execution_count: number; data: Record<string, Lines | string>; metadata: Record<string, never> }
  | { output_type: "display_data"; data: Record<string, Lines | string>; metadata: Record<string, never> }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export type NotebookCell =
  | { id: string; cell_type: "markdown"; metadata: Record<string, never>; source: Lines }
  | { id: string; cell_type: "code"; metadata: Record<string, never>; execution_count: number; source: Lines; outputs: NotebookOutput[] };

export interface NotebookDocument {
  nbformat: 4;
  nbformat_minor: 5;
  metadata: {
    title: string;
    kernelspec: { name: string; display_name: string; language: string };
    language_info: { name: string };
  };
  cells: NotebookCell[];
}

export const noAnswerText = "*(No answer was recorded for this question: it was still running, or the bot stopped before it answered.)*";

export function notebookDocument(title: string, turns: readonly NotebookTurnRecord[]): NotebookDocument {
  const cells: NotebookCell[] = [];
  let executionCount = 0;
  turns.forEach((turn, position) => {
    const number = position + 1;
    cells.push(markdown(`question-${number}`, questionText(turn)));
    for (const cell of turn.cells) {
      executionCount += 1;
      cells.push({ id: `cell-${executionCount}`, cell_type: "code", metadata: {}, execution_count: executionCount, source: lines(cell.code), outputs: outputsOf(cell, executionCount) });
    }
    cells.push(markdown(`answer-${number}`, turn.answer ?? noAnswerText));
  });
  return {
    nbformat: notebookFormat.major,
    nbformat_minor: notebookFormat.minor,
    metadata: {
      title,
      kernelspec: { name: "python3", display_name: "Python 3", language: "python" },
      language_info: { name: "python" },
    },
    cells,
  };
}

/** The notebook file's bytes: JSON indented by one space, as Jupyter writes it. */
export function notebookBytes(document: NotebookDocument): Buffer {
  return Buffer.from(`${JSON.stringify(document, null, 1)}\n`);
}

/** "**Ada** asked:", the question quoted, then the files given with it. */
export function questionText(turn: NotebookTurnRecord): string {
  const who = escapeMarkdown(turn.user.displayName ?? `${turn.user.platform} user ${turn.user.id}`);
  const quoted = turn.text.split("\n").map((line) => `> ${line}`).join("\n");
  const parts = [`**${who}** asked:`, quoted];
  if (turn.attachments.length > 0) {
    parts.push(`Attached: ${turn.attachments.map((file) => `${codeSpan(file.name)} (${formatBytes(file.bytes)})`).join(", ")}`);
  }
  return parts.join("\n\n");
}

function outputsOf(cell: NotebookCellRecord, executionCount: number): NotebookOutput[] {
  const outputs: NotebookOutput[] = [];
  if (cell.stdout !== "") outputs.push({ output_type: "stream", name: "stdout", text: lines(cell.stdout) });
  if (cell.stderr !== "") outputs.push({ output_type: "stream", name: "stderr", text: lines(cell.stderr) });
  if (cell.valueText !== null) {
    const data: Record<string, Lines> = { "text/plain": lines(cell.valueText) };
    if (cell.valueHtml !== null) data["text/html"] = lines(cell.valueHtml);
    outputs.push({ output_type: "execute_result", execution_count: executionCount, data, metadata: {} });
  }
  if (cell.error !== null) {
    const { name, message, traceback } = cell.error;
    outputs.push({ output_type: "error", ename: name, evalue: message, traceback: traceback === "" ? [`${name}: ${message}`] : traceback.replace(/\n+$/, "").split("\n") });
  }
  for (const figure of cell.figures) {
    outputs.push({ output_type: "display_data", data: { "image/png": `${figure.png.toString("base64")}\n`, "text/plain": [`<${figure.name}>`] }, metadata: {} });
  }
  if (cell.figuresOmitted.length > 0) {
    const note = `Figures not kept in the notebook (over its bounds): ${cell.figuresOmitted.join(", ")}`;
    outputs.push({ output_type: "display_data", data: { "text/plain": [note] }, metadata: {} });
  }
  return outputs;
}

function markdown(id: string, text: string): NotebookCell {
  return { id, cell_type: "markdown", metadata: {}, source: lines(text) };
}

/** Text as Jupyter stores it: a list of lines, each but the last ending in its newline. */
export function lines(text: string): Lines {
  return text === "" ? [] : (text.match(/[^\n]*\n|[^\n]+$/g) ?? []);
}

/** A name shown as code, in a span of more backticks than it holds in a row. */
function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  return longest > 0 ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, "\\$&");
}
