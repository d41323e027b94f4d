/**
 * The user's files, put into the session's working directory under plain,
 * unique names, and the note that tells the model what it was given: each
 * file's name, size and, for text and tables, its first lines.
 */
import type { FilePreview, Session } from "../sandbox/sandbox.ts";
import { sanitizeFileName, uniqueName } from "../file-names.ts";
import { headAndTail } from "./bounded-text.ts";
import { formatBytes } from "./format-size.ts";
import type { Attachment } from "./turn.ts";

export interface PlacedAttachment {
  /** The name the user gave the file. */
  original: string;
  /** Its name in the working directory. */
  name: string;
  bytes: number;
  data: Buffer;
}

const previewChars = 1_500;

/** Writes the attachments into the session; names taken by files already there get a suffix. */
export async function placeAttachments(session: Session, attachments: Attachment[]): Promise<PlacedAttachment[]> {
  if (attachments.length === 0) return [];
  const taken = new Set((await session.listFiles()).map((file) => file.name));
  const placed: PlacedAttachment[] = [];
  for (const attachment of attachments) {
    const name = uniqueName(sanitizeFileName(attachment.name), taken);
    taken.add(name);
    placed.push({ original: attachment.name, name, bytes: attachment.data.length, data: attachment.data });
  }
  await session.putFiles(placed.map((file) => ({ name: file.name, data: file.data })));
  return placed;
}

export function describeAttachments(placed: PlacedAttachment[], previews: FilePreview[]): string {
  const previewByName = new Map(previews.map((preview) => [preview.name, preview]));
  const lines = [`The user attached ${placed.length === 1 ? "a file; it is" : `${placed.length} files; they are`} in the working directory:`];
  for (const file of placed) {
    const preview = previewByName.get(file.name);
    const renamed = file.name === file.original ? "" : ` (sent as ${JSON.stringify(file.original)})`;
    const kind = preview && preview.kind !== "missing" ? `, ${preview.kind}` : "";
    lines.push(`- ${file.name}${renamed}: ${formatBytes(file.bytes)}${kind}`);
    if (preview && preview.head.trim() !== "") {
      lines.push(`  first lines:\n${indent(headAndTail(preview.head, previewChars))}`);
    }
  }
  return lines.join("\n");
}

function indent(text: string): string {
  return text.split("\n").map((line) => `    ${line}`).join("\n");
}
