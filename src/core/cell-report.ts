/**
 * What goes back to the model after a cell: its output, value, traceback,
 * the files it made and notes on figures and lost state, as one bounded
 * text. The sandbox already bounds each stream; this bounds what a single
 * cell may add to the model's context, so a flood of output cannot flood it.
 */
import type { CellResult, SandboxFileInfo } from "../sandbox/sandbox.ts";
import { headAndTail } from "./bounded-text.ts";
import { cellErrorText } from "./cell-summary.ts";
import { formatBytes } from "./format-size.ts";

/** The most one cell's result adds to the model's context. */
export const MAX_REPORT_CHARS = 12_000;

const sectionChars = { stdout: 5_000, stderr: 2_000, value: 3_000, error: 4_000 } as const;
const maxListedFiles = 30;

export interface CellReportOptions {
  /** The figures travel to the model as images beside this text. */
  figuresAttached: boolean;
}

export function cellReport(result: CellResult, options: CellReportOptions): string {
  const sections: string[] = [];
  if (result.stdoutBytes > 0 || result.stdout !== "") sections.push(stream("stdout", result.stdout, result.stdoutBytes, sectionChars.stdout));
  if (result.stderrBytes > 0 || result.stderr !== "") sections.push(stream("stderr", result.stderr, result.stderrBytes, sectionChars.stderr));
  if (result.value !== null) sections.push(`value:\n${headAndTail(result.value, sectionChars.value)}`);
  const error = cellErrorText(result);
  if (error !== null) sections.push(`error:\n${headAndTail(error, sectionChars.error)}`);
  const files = fileList(result.files, result.filesOmitted);
  if (files !== null) sections.push(files);
  if (result.figures.length > 0) sections.push(figureNote(result.figures, options.figuresAttached));
  if (result.figuresOmitted.length > 0) {
    sections.push(`figures left out: ${result.figuresOmitted.length} more figures were open, past the ten a cell keeps; they were closed without being saved. Draw fewer figures a cell, or combine them in subplots.`);
  }
  if (result.stateLost) {
    sections.push("note: the Python session was restarted, so every variable and import is gone, and so are the files the code made. Start again from the data the user gave; if a file they attached is needed but not in the working directory, ask them to attach it again.");
  }
  if (sections.length === 0) sections.push("(the cell ran without output)");
  return headAndTail(sections.join("\n\n"), MAX_REPORT_CHARS);
}

function stream(label: string, text: string, totalBytes: number, maxChars: number): string {
  const shown = headAndTail(text.trimEnd(), maxChars);
  const cut = totalBytes > Buffer.byteLength(shown);
  return cut ? `${label} (${formatBytes(totalBytes)} in all; only the head and tail are shown):\n${shown}` : `${label}:\n${shown}`;
}

function fileList(files: SandboxFileInfo[], omitted: number): string | null {
  if (files.length === 0 && omitted === 0) return null;
  const listed = files.slice(0, maxListedFiles).map((file) => `${file.name} (${formatBytes(file.bytes)})`);
  const more = files.length - listed.length + omitted;
  if (more > 0) listed.push(`and ${more} more`);
  return `files created or changed: ${listed.join(", ")}`;
}

function figureNote(figures: SandboxFileInfo[], attached: boolean): string {
  const names = figures.map((figure) => figure.name).join(", ");
  return attached
    ? `figures: ${names} saved and shown to the user; the images follow.`
    : `figures: ${names} saved and shown to the user; you cannot see them, so judge them by the data behind them.`;
}
