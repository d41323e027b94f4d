/**
 * A conversation's notebook as a file to hand over: `<title>.ipynb`, the
 * title taken from its first question. Built from the store (every cell,
 * including those the model's trimmed history left out), not the transcript.
 */
import type { NotebookStore } from "../store/notebook-store.ts";
import { notebookBytes, notebookDocument } from "./notebook-document.ts";

export interface NotebookFile {
  /** e.g. "median-order-value-by-region.ipynb". */
  name: string;
  /** The notebook's title, as its metadata gives it. */
  title: string;
  data: Buffer;
  /** Questions in it. */
  questions: number;
  /** Code cells in it. */
  codeCells: number;
}

const titleChars = 60;
const fallbackTitle = "threadbook notebook";

/** The conversation's notebook; null when the store knows no such conversation. */
export async function exportNotebook(notebook: NotebookStore, conversationKey: string): Promise<NotebookFile | null> {
  const turns = await notebook.loadNotebook(conversationKey);
  if (turns === null) return null;
  const title = notebookTitle(turns[0]?.text ?? "");
  const document = notebookDocument(title, turns);
  return {
    name: `${fileStem(title)}.ipynb`,
    title,
    data: notebookBytes(document),
    questions: turns.length,
    codeCells: turns.reduce((sum, turn) => sum + turn.cells.length, 0),
  };
}

/** The question's first line, without platform mentions, cut at a word near 60 characters. */
export function notebookTitle(question: string): string {
  const line = question.replace(/<[@#!][^>\s]{0,100}>/g, " ").split("\n").find((each) => each.trim() !== "") ?? "";
  const words = line.replace(/[\p{Cc}\p{Cf}]/gu, " ").replace(/\s+/g, " ").trim();
  if (words === "") return fallbackTitle;
  const characters = Array.from(words);
  if (characters.length <= titleChars) return words;
  const cut = characters.slice(0, titleChars).join("");
  const space = cut.lastIndexOf(" ");
  return `${(space > titleChars / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** A title as a plain file name: lower-case letters and digits joined by hyphens. */
export function fileStem(title: string): string {
  const stem = title.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-+|-+$/g, "");
  return stem === "" ? "threadbook-notebook" : stem;
}
