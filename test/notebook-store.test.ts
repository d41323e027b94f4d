/**
 * The notebook's export from the real SQLite store (its records are in the
 * Store contract, store-contract.ts), the bounds the core puts
 * on what it keeps, and the notebook document built from them (checked by
 * the real nbformat).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isPng } from "../src/core/figure-pngs.ts";
import { notebookAnswer, notebookAttachments, notebookBounds, notebookCell } from "../src/core/notebook-cell.ts";
import { lines, notebookDocument } from "../src/core/notebook-document.ts";
import { exportNotebook, fileStem, notebookTitle } from "../src/core/notebook-export.ts";
import type { CellResult } from "../src/sandbox/sandbox.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { readNotebook } from "./support/nbformat-check.ts";

let root: string;
let store: SqliteStore;
const ada = { platform: "slack", id: "U0ADA", workspace: "T1", displayName: "Ada *the* analyst" };
/** The smallest PNG: a 1×1 image. */
const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");

before(() => {
  root = mkdtempSync(join(tmpdir(), "threadbook-notebook-store-"));
  store = openSqliteStore(root);
});

after(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

function result(fields: Partial<CellResult> = {}): CellResult {
  return {
    stdout: "", stderr: "", stdoutBytes: 0, stderrBytes: 0, value: null, valueHtml: null, error: null, figures: [], figuresOmitted: [],
    files: [], filesOmitted: 0, durationMs: 1, timedOut: false, stopped: false, stateLost: false, ...fields,
  };
}

test("figures past the conversation's room, unreadable or not PNG are named as left out; code and answers are bounded", () => {
  const figures = ["a.png", "b.png", "c.png", "d.png"].map((name) => ({ name, bytes: png.length, png: null }));
  const cell = notebookCell("k", "t", "x".repeat(notebookBounds.codeChars + 10), result({ figures, figuresOmitted: ["e.png"] }), [png, null, png, png], png.length * 2);
  assert.deepEqual(cell.figures.map((figure) => figure.name), ["a.png", "c.png"]);
  assert.deepEqual(cell.figuresOmitted, ["e.png", "b.png", "d.png"]);
  assert.equal(isPng(png), true);
  assert.equal(isPng(Buffer.from("GIF89a\x01\x00\x01\x00")), false, "bytes a sandbox calls a figure are checked to be a PNG");
  assert.ok(cell.code.length <= notebookBounds.codeChars && cell.code.includes("characters cut"));
  assert.ok(notebookAnswer("y".repeat(notebookBounds.answerChars * 2), "it broke").length <= notebookBounds.answerChars);
  assert.equal(notebookAnswer("Done.", "The sandbox went away."), "Done.\n\n**Error:** The sandbox went away.");
  assert.equal(notebookAttachments(Array.from({ length: 80 }, (_, index) => ({ name: `f${index}`, data: Buffer.alloc(1) }))).length, notebookBounds.attachments);
});

test("the document: outputs in Jupyter's order, an answer missing said, figures left out named, and nbformat accepts it", () => {
  const document = notebookDocument("T", [{
    turnId: "t1", user: ada, text: "line one\nline two", startedAt: 0, attachments: [{ name: "odd`name.csv", bytes: 2_500 }], answer: null,
    cells: [{
      id: 1, conversationKey: "k", turnId: "t1", code: "1/0", stdout: "a\nb", stderr: "warn\n", valueText: null, valueHtml: null,
      error: { name: "TimeoutError", message: "the cell ran past its limit", traceback: "" },
      figures: [{ name: "figure-1.png", png }], figuresOmitted: ["figure-2.png"],
    }],
  }]);
  assert.deepEqual(lines("a\nb"), ["a\n", "b"]);
  assert.deepEqual(lines("a\n"), ["a\n"]);
  const read = readNotebook(JSON.stringify(document));
  assert.equal(read.cells[0]?.source, "**Ada \\*the\\* analyst** asked:\n\n> line one\n> line two\n\nAttached: `` odd`name.csv `` (2.5 kB)");
  assert.deepEqual(read.cells[1]?.outputs?.map((output) => [output.output_type, output.name ?? output.ename ?? Object.keys(output.data ?? {}).sort().join(",")]), [
    ["stream", "stdout"], ["stream", "stderr"], ["error", "TimeoutError"], ["display_data", "image/png,text/plain"], ["display_data", "text/plain"],
  ]);
  assert.deepEqual(read.cells[1]?.outputs?.[2]?.traceback, ["TimeoutError: the cell ran past its limit"]);
  assert.match(read.cells[1]?.outputs?.[4]?.data?.["text/plain"] ?? "", /figure-2\.png/);
  assert.match(read.cells[2]?.source ?? "", /No answer was recorded/);
});

test("the title is the first question's first line without mentions, cut near 60 characters; the file name its plain words", async () => {
  assert.equal(notebookTitle("<@U0BOT> What is the median order value?\nAnd more"), "What is the median order value?");
  assert.equal(notebookTitle("   "), "threadbook notebook");
  const long = notebookTitle("Compare the quarterly revenue of every region against the forecast and explain the gap");
  assert.equal(long, "Compare the quarterly revenue of every region against the…");
  assert.equal(fileStem("Café sales: Q1/Q2?"), "cafe-sales-q1-q2");
  assert.equal(fileStem("???"), "threadbook-notebook");
  assert.equal(await exportNotebook(store.notebook, "slack:T9:C9:9.9"), null);
});
