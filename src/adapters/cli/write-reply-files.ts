/**
 * `--out DIR`: the reply's files written under DIR, keeping their folders.
 * The names come from code the model wrote, so each must stay inside DIR.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { ReplyFile } from "../../core/turn.ts";
import { ThreadbookError } from "../../errors.ts";

/** Writes the files; returns each file's path by name. Throws with a plain message when DIR is not writable. */
export async function writeReplyFiles(directory: string, files: ReplyFile[]): Promise<Map<string, string>> {
  const written = new Map<string, string>();
  if (files.length === 0) return written;
  const root = resolve(directory);
  for (const file of files) {
    const path = resolve(join(root, ...file.name.split("/")));
    if (!path.startsWith(root + sep)) continue;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.data);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ThreadbookError("input_invalid", `Cannot write ${path} (${reason}); check --out.`, { cause: error });
    }
    written.set(file.name, path);
  }
  return written;
}
