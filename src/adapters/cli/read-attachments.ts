/** Files named on the command line, read into attachments, with a one-line reason when one cannot be. */
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Attachment } from "../../core/turn.ts";
import { UsageError } from "./usage-error.ts";

export async function readAttachments(paths: string[], command: string): Promise<Attachment[]> {
  const attachments: Attachment[] = [];
  for (const path of paths) {
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new UsageError(`Cannot attach ${path}: it is not a regular file.`, command);
      attachments.push({ name: basename(path), data: await readFile(path) });
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`Cannot read ${path}: ${reason(error)}.`, command);
    }
  }
  return attachments;
}

function reason(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
