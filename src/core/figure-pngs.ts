/**
 * The PNG bytes of a cell's figures, read once for everyone who needs them
 * (the model's images, the notebook): the bytes that came back with the
 * result, else the file read from the session. A figure over the bound, one
 * that cannot be read, or bytes that are not a PNG give null: the sandbox is
 * untrusted, and what it calls a figure is checked before it is shown.
 */
import { ThreadbookError } from "../errors.ts";
import type { FigureFile, Session } from "../sandbox/sandbox.ts";

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One entry a figure, in the figures' order. */
export async function figurePngs(session: Session, figures: readonly FigureFile[], maxBytes: number): Promise<(Buffer | null)[]> {
  const missing = figures.filter((figure) => figure.png === null && figure.bytes <= maxBytes).map((figure) => figure.name);
  const read = new Map<string, Buffer>();
  if (missing.length > 0) {
    try {
      for (const file of await session.getFiles(missing, { maxBytes, totalBytes: maxBytes * figures.length })) read.set(file.name, file.data);
    } catch (error) {
      // A figure that cannot be read is left out; the cell's result stands.
      if (!(error instanceof ThreadbookError)) throw error;
    }
  }
  return figures.map((figure) => {
    const png = figure.png ?? read.get(figure.name) ?? null;
    return png !== null && png.length <= maxBytes && isPng(png) ? png : null;
  });
}

export function isPng(data: Buffer): boolean {
  return data.length > pngSignature.length && data.subarray(0, pngSignature.length).equals(pngSignature);
}
