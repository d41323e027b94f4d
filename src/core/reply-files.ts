/**
 * The files a turn gives the user: every file its cells created or changed
 * in the working directory, figures marked as images, within the reply's
 * bounds on count and size; those left out are named.
 */
import type { Config } from "../config.ts";
import type { CellResult, SandboxFileInfo, Session } from "../sandbox/sandbox.ts";
import { displayPath } from "../file-names.ts";
import { mediaTypeOf } from "./media-type.ts";
import type { ReplyFile } from "./turn.ts";

export type ReplyFileBounds = Config["reply"];

const imageExtensions = /\.(png|jpe?g|gif|webp)$/i;

export class TurnFiles {
  /** Files in the working directory when the turn's cells began: name → size. */
  readonly #before: Map<string, number>;
  /** Names reported by cells, in order of first appearance. */
  readonly #changed = new Set<string>();
  readonly #figures = new Set<string>();
  /** Figures past a cell's bound, never saved: named as left out. */
  readonly #figuresOmitted: string[] = [];
  /** Figures that came back with their cell's result, so the reply need not read them again. */
  readonly #carried = new Map<string, Buffer>();

  constructor(before: SandboxFileInfo[]) {
    this.#before = new Map(before.map((file) => [file.name, file.bytes]));
  }

  noteCell(result: CellResult): void {
    this.#figuresOmitted.push(...result.figuresOmitted);
    for (const file of result.files) this.#changed.add(file.name);
    for (const figure of result.figures) {
      this.#changed.add(figure.name);
      this.#figures.add(figure.name);
      if (figure.png === null) this.#carried.delete(figure.name);
      else this.#carried.set(figure.name, figure.png);
    }
    // A later cell that rewrote a carried figure's file makes the carried copy stale.
    for (const file of result.files) {
      if (!result.figures.some((figure) => figure.name === file.name)) this.#carried.delete(file.name);
    }
  }

  /** Files put back after the session was restarted are the user's own, not made by the turn: they are not returned. */
  noteRestored(files: SandboxFileInfo[]): void {
    for (const file of files) {
      this.#before.set(file.name, file.bytes);
      this.#changed.delete(file.name);
      this.#figures.delete(file.name);
      this.#carried.delete(file.name);
    }
  }

  /**
   * Reads the turn's files out of the session. A listing is compared with the
   * one at the start too, which finds files past a cell's listing bound.
   */
  async collect(session: Session, bounds: ReplyFileBounds, signal?: AbortSignal): Promise<{ files: ReplyFile[]; omitted: string[] }> {
    const present = new Map((await session.listFiles()).map((file) => [file.name, file.bytes]));
    const unreported = [...present.keys()].filter((name) => !this.#changed.has(name) && this.#before.get(name) !== present.get(name)).sort();
    const candidates = [...this.#changed, ...unreported].filter((name) => present.has(name));

    const wanted: string[] = [];
    const omitted: string[] = [];
    for (const name of candidates) {
      const fits = (present.get(name) ?? 0) <= bounds.maxFileBytes && wanted.length < bounds.maxFiles;
      (fits ? wanted : omitted).push(name);
    }
    const isCarried = (name: string) => this.#carried.get(name)?.length === present.get(name);
    const toRead = wanted.filter((name) => !isCarried(name));
    const read = toRead.length > 0 ? await session.getFiles(toRead, { maxBytes: bounds.maxFileBytes, totalBytes: bounds.maxFileBytes * bounds.maxFiles, signal }) : [];
    const byName = new Map<string, { data: Buffer }>(read.map((file) => [file.name, file]));
    for (const name of wanted) if (isCarried(name)) byName.set(name, { data: this.#carried.get(name)! });
    const files: ReplyFile[] = [];
    for (const name of wanted) {
      const file = byName.get(name);
      if (file === undefined) {
        omitted.push(name);
        continue;
      }
      // Shown by a name without control or format characters; the code may have named it anything.
      const shown = displayPath(name);
      files.push({ name: shown, bytes: file.data.length, data: file.data, image: this.#figures.has(name) || imageExtensions.test(name), mediaType: mediaTypeOf(shown) });
    }
    return { files, omitted: [...omitted.map(displayPath), ...this.#figuresOmitted.map(displayPath)] };
  }
}
