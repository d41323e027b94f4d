/**
 * The bytes of kept attachments, as files under the data directory:
 * `attachments/<first 24 hex digits of sha256(conversation key)>/<name>`.
 * They hold users' data, so the directories are 0700 and the files 0600.
 * Paths given and returned are relative to the data directory, with `/`
 * separators; the rows that name them are the store's.
 */
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StoreError } from "../errors.ts";
import { sanitizeFileName, uniqueName } from "../file-names.ts";
import { fileFailure } from "./sqlite-errors.ts";

export const attachmentsDirectoryName = "attachments";

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The conversation's directory, relative to the data directory; the key itself never reaches the file system. */
export function conversationDirectory(conversationKey: string): string {
  return `${attachmentsDirectoryName}/${sha256Hex(conversationKey).slice(0, 24)}`;
}

/** Writes the bytes under their sanitised name, suffixed when the conversation already keeps that name; returns the path. */
export async function writeAttachmentFile(dataDir: string, conversationKey: string, name: string, data: Buffer): Promise<string> {
  const directory = conversationDirectory(conversationKey);
  const absoluteDirectory = join(dataDir, directory);
  try {
    await mkdir(absoluteDirectory, { recursive: true, mode: 0o700 });
    const taken = new Set(await readdir(absoluteDirectory));
    const wanted = sanitizeFileName(name);
    for (;;) {
      const candidate = uniqueName(wanted, taken);
      const absolute = join(absoluteDirectory, candidate);
      try {
        // "wx" refuses a name taken since the listing, e.g. by another process keeping a file.
        await writeFile(absolute, data, { flag: "wx", mode: 0o600 });
        return `${directory}/${candidate}`;
      } catch (error) {
        if (!hasCode(error, "EEXIST")) {
          await rm(absolute, { force: true }).catch(() => undefined);
          throw error;
        }
        taken.add(candidate);
      }
    }
  } catch (error) {
    throw fileFailure(absoluteDirectory, "keep an attachment in", error);
  }
}

/**
 * The kept bytes, or null when the file is gone. Throws a StoreError when
 * they no longer match `sha256`, rather than hand on a changed file.
 */
export async function readAttachmentFile(dataDir: string, path: string, sha256: string): Promise<Buffer | null> {
  const absolute = join(dataDir, path);
  let data: Buffer;
  try {
    data = await readFile(absolute);
  } catch (error) {
    if (hasCode(error, "ENOENT")) return null;
    throw fileFailure(absolute, "read the kept attachment at", error);
  }
  if (sha256Hex(data) !== sha256) {
    throw new StoreError(`The kept attachment at ${absolute} has changed since it was attached.`, { details: { path: absolute } });
  }
  return data;
}

/** Removes one kept file, as when its row could not be written; a file already gone is fine. */
export async function removeAttachmentFile(dataDir: string, path: string): Promise<void> {
  await rm(join(dataDir, path), { force: true });
}

/** Removes every kept file of the conversation. */
export function removeConversationFiles(dataDir: string, conversationKey: string): void {
  const absolute = join(dataDir, conversationDirectory(conversationKey));
  try {
    rmSync(absolute, { recursive: true, force: true });
  } catch (error) {
    throw fileFailure(absolute, "remove the kept attachments in", error);
  }
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === code;
}
