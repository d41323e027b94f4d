/**
 * `--out DIR`: the reply's files written under DIR, keeping their folders.
 * The names come from code the model wrote, so each must stay inside DIR.
 * A file already there is never overwritten: the new one takes the next free
 * name, `plot-2.png`, `plot-3.png`, …
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, parse, resolve, sep } from "node:path";
import type { ReplyFile } from "../../core/turn.ts";
import { ThreadbookError } from "../../errors.ts";

/** How many numbered names to try before giving up on a crowded folder. */
const maxNumberedNames = 1000;

export interface WrittenFiles {
  /** Each written file's path, by its name in the reply. */
  paths: Map<string, string>;
  /** Files written under another name, because their own was taken. */
  renamed: { name: string; taken: string; path: string }[];
}

/** Writes the files. Throws with a plain message when DIR is not writable. */
export async function writeReplyFiles(directory: string, files: ReplyFile[]): Promise<WrittenFiles> {
  const written: WrittenFiles = { paths: new Map(), renamed: [] };
  if (files.length === 0) return written;
  const root = resolve(directory);
  for (const file of files) {
    const wanted = resolve(join(root, ...file.name.split("/")));
    if (!wanted.startsWith(root + sep)) continue;
    let path: string;
    try {
      await mkdir(dirname(wanted), { recursive: true });
      path = await writeNew(wanted, file.data);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ThreadbookError("input_invalid", `Cannot write ${wanted} (${reason}); check --out.`, { cause: error });
    }
    written.paths.set(file.name, path);
    if (path !== wanted) written.renamed.push({ name: file.name, taken: wanted, path });
  }
  return written;
}

/** Writes `data` at `path`, or at the first free numbered name beside it; returns where. */
async function writeNew(path: string, data: Uint8Array): Promise<string> {
  const { dir, name, ext } = parse(path);
  for (let number = 1; number <= maxNumberedNames; number += 1) {
    const candidate = number === 1 ? path : join(dir, `${name}-${number}${ext}`);
    try {
      // "wx": fails with EEXIST instead of replacing what is there.
      await writeFile(candidate, data, { flag: "wx" });
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  throw Object.assign(new Error(`${maxNumberedNames} names taken`), { code: "EEXIST" });
}
