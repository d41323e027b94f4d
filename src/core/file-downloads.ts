/**
 * Files a user gave, fetched only once their turn was admitted and holds a
 * turn slot: a post refused (a user over a limit, the queue full, the bot
 * shutting down) fetches nothing. Downloads at once are bounded across the
 * whole bot; each file streams to the data directory, checked against the
 * session's file-size limit as its bytes arrive (a stated size over it is
 * refused unfetched), and is read back once into the attachment handed to
 * the session, so memory never holds a file twice or a file past the limit.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ThreadbookError } from "../errors.ts";
import { formatBytes } from "./format-size.ts";
import { Slots } from "./slots.ts";
import type { Attachment, IncomingFile } from "./turn.ts";

export interface FileDownloadOptions {
  /** Where downloads are written while they arrive; emptied at start (a crash may leave some). */
  directory: string;
  /** The session's file-size limit (THREADBOOK_SANDBOX_FILE_MB). */
  maxBytes: number;
  /** Downloads at once across the bot (THREADBOOK_MAX_DOWNLOADS). */
  maxAtOnce: number;
}

/** The folder under the data directory that holds downloads in progress. */
export const incomingDirectoryName = "incoming";

export class FileDownloads {
  readonly #options: FileDownloadOptions;
  readonly #slots: Slots;

  constructor(options: FileDownloadOptions) {
    this.#options = options;
    this.#slots = new Slots(options.maxAtOnce);
    rmSync(options.directory, { recursive: true, force: true });
    mkdirSync(options.directory, { recursive: true, mode: 0o700 });
  }

  /** Downloads running now. */
  get running(): number {
    return this.#slots.held;
  }

  /**
   * Every file, in order, or a ThreadbookError whose message tells the user
   * which file could not be fetched and why. Aborting `signal` ends the
   * download in progress and rejects with the signal's reason.
   */
  async fetch(files: readonly IncomingFile[], signal: AbortSignal): Promise<Attachment[]> {
    const attachments: Attachment[] = [];
    for (const file of files) attachments.push({ name: file.name, data: await this.#fetchOne(file, signal) });
    return attachments;
  }

  async #fetchOne(file: IncomingFile, signal: AbortSignal): Promise<Buffer> {
    const { maxBytes, directory } = this.#options;
    const tooLarge = () => new ThreadbookError("file_rejected", `${file.name} is larger than the ${formatBytes(maxBytes)} a file may be here (THREADBOOK_SANDBOX_FILE_MB).`);
    if (file.bytes > maxBytes) throw tooLarge();
    const release = await this.#slots.take(signal);
    const path = join(directory, randomUUID());
    // Aborted to end the download early (too large, a write failed): the platform's request goes with it.
    const ending = new AbortController();
    try {
      const { body, statedBytes } = await file.open(AbortSignal.any([signal, ending.signal]));
      if (statedBytes !== null && statedBytes > maxBytes) throw tooLarge();
      const handle = await open(path, "wx", 0o600);
      try {
        let total = 0;
        for await (const chunk of body) {
          total += chunk.byteLength;
          if (total > maxBytes) throw tooLarge();
          await handle.write(chunk);
        }
      } finally {
        await handle.close();
      }
      signal.throwIfAborted();
      return await readFile(path);
    } finally {
      ending.abort();
      release();
      await rm(path, { force: true }).catch(() => undefined);
    }
  }
}
