/**
 * `threadbook export CONVERSATION [--out FILE]`: the conversation as a
 * Jupyter notebook, from the store through the core; no model and no Docker.
 * A conversation the store does not know is a usage error that names it,
 * and nothing is written.
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Config } from "../../config.ts";
import { exportNotebook, type NotebookFile } from "../../core/notebook-export.ts";
import { ThreadbookError } from "../../errors.ts";
import { openStore } from "../../store/open-store.ts";
import type { ExportOptions } from "./command-line.ts";
import { UsageError } from "./usage-error.ts";
import { writeReplyFiles } from "./write-reply-files.ts";

export interface ExportStreams {
  writeOut: (text: string | Buffer) => Promise<void>;
  writeError: (text: string) => void;
}

export async function runExportCommand(options: ExportOptions, config: Config, streams: ExportStreams): Promise<void> {
  const store = await openStore(config, { recoverInterruptedTurns: false });
  let notebook: NotebookFile | null;
  try {
    // A key as the audit shows it, else the name given to ask or chat with --conversation.
    notebook = (await exportNotebook(store.notebook, options.conversation)) ?? (await exportNotebook(store.notebook, `cli:${options.conversation}`));
  } finally {
    await store.close();
  }
  if (notebook === null) {
    throw new UsageError(`No conversation ${JSON.stringify(options.conversation)} in ${config.dataDir}: nothing was written.`, "export");
  }
  const summary = `${notebook.questions} question${notebook.questions === 1 ? "" : "s"}, ${notebook.codeCells} code cell${notebook.codeCells === 1 ? "" : "s"}`;
  if (options.out === "-") {
    await streams.writeOut(notebook.data);
    return;
  }
  const path = options.out === undefined ? await writeBeside(notebook) : await writeAt(resolve(options.out), notebook.data);
  await streams.writeOut(`Wrote ${path} (${summary}).\n`);
}

/** `<title>.ipynb` in the current directory, never over a file already there. */
async function writeBeside(notebook: NotebookFile): Promise<string> {
  const written = await writeReplyFiles(".", [{ name: notebook.name, bytes: notebook.data.length, data: notebook.data, image: false, mediaType: "application/x-ipynb+json" }]);
  const path = written.paths.get(notebook.name);
  if (path === undefined) throw new ThreadbookError("input_invalid", `Cannot write ${notebook.name} in the current directory.`);
  return path;
}

async function writeAt(path: string, data: Buffer): Promise<string> {
  try {
    await writeFile(path, data);
    return path;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ThreadbookError("input_invalid", `Cannot write ${path} (${reason}); check --out.`, { cause: error });
  }
}
