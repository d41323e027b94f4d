/**
 * A Reply as Discord messages in Components V2: one container a message,
 * coloured for done, stopped or failed. The answer first, then each cell's
 * code in a ```python block and its output (head and tail when long; the
 * whole attached as a file), then the files: images in a media gallery,
 * others as file components. Text over a message's limit goes on in the
 * next message, split at lines and never inside a code fence. A file over
 * the upload limit is named with its size and not sent.
 */
import { ComponentType, type APIComponentInContainer, type APIContainerComponent } from "discord.js";
import { headAndTail } from "../../core/bounded-text.ts";
import { formatBytes, formatDuration } from "../../core/format-size.ts";
import type { Reply, ReplyCell } from "../../core/turn.ts";
import { fenced } from "./code-block.ts";
import { accentColours, inlineCodeChars, inlineOutputChars, messageLimits } from "./message-limits.ts";
import { splitText } from "./split-text.ts";

export interface OutgoingFile {
  name: string;
  data: Buffer;
}

/** One message: a Components V2 container and the files its components refer to as attachment://name. */
export interface OutgoingMessage {
  container: APIContainerComponent;
  files: OutgoingFile[];
}

type Unit =
  | { kind: "text"; text: string }
  | { kind: "gallery"; files: OutgoingFile[] }
  | { kind: "file"; file: OutgoingFile };

export function replyMessages(reply: Reply, uploadLimitBytes: number): OutgoingMessage[] {
  const names = new AttachmentNames();
  const units: Unit[] = [];
  const notes: string[] = [];
  const answer = reply.error ?? reply.text.trim();
  if (answer !== "") units.push({ kind: "text", text: answer });
  reply.cells.forEach((cell, index) => units.push(...cellUnits(cell, index + 1, names)));
  const images: OutgoingFile[] = [];
  for (const file of reply.files) {
    if (file.bytes > uploadLimitBytes || file.data.length > uploadLimitBytes) {
      notes.push(`\`${safeInline(file.name)}\` (${formatBytes(file.bytes)}) is over Discord's upload limit here (${formatBytes(uploadLimitBytes)}), so it is not sent.`);
      continue;
    }
    const outgoing = { name: names.take(file.name), data: file.data };
    if (file.image) images.push(outgoing);
    else units.push({ kind: "file", file: outgoing });
  }
  for (let start = 0; start < images.length; start += messageLimits.galleryItems) {
    units.push({ kind: "gallery", files: images.slice(start, start + messageLimits.galleryItems) });
  }
  if (reply.filesOmitted.length > 0) notes.push(`Files left out (too many or too large): ${reply.filesOmitted.map(safeInline).join(", ")}`);
  if (reply.attachmentsNotPlaced.length > 0) notes.push(`Your files were not kept; send them again: ${reply.attachmentsNotPlaced.map(safeInline).join(", ")}`);
  if (notes.length > 0) units.push({ kind: "text", text: notes.join("\n") });
  if (units.length === 0) units.push({ kind: "text", text: "(no answer)" });
  return pack(units, accentOf(reply));
}

function accentOf(reply: Reply): number {
  if (reply.error !== null) return accentColours.failed;
  if (reply.stoppedBy !== null || reply.limit !== null) return accentColours.stopped;
  return accentColours.done;
}

function cellUnits(cell: ReplyCell, number: number, names: AttachmentNames): Unit[] {
  const units: Unit[] = [];
  const code = cell.code.trimEnd();
  const heading = `**Cell ${number}** · ${formatDuration(cell.durationMs)}${cell.error === null ? "" : " · failed"}`;
  const shownCode = headAndTail(code, inlineCodeChars);
  units.push({ kind: "text", text: `${heading}\n${fenced(shownCode, "python")}` });
  if (shownCode !== code) units.push({ kind: "file", file: { name: names.take(`cell-${number}.py`), data: Buffer.from(`${code}\n`) } });
  const output = [cell.stdout.trimEnd(), cell.stderr.trimEnd(), cell.value ?? "", cell.error ?? ""].filter((part) => part !== "").join("\n");
  if (output !== "") {
    const shownOutput = headAndTail(output, inlineOutputChars);
    units.push({ kind: "text", text: fenced(shownOutput, "") });
    if (shownOutput !== output) units.push({ kind: "file", file: { name: names.take(`cell-${number}-output.txt`), data: Buffer.from(`${output}\n`) } });
  }
  return units;
}

function safeInline(name: string): string {
  return name.replace(/[`\n\r]/g, "_");
}

/** Attachment names as Discord keeps them (no folders, no odd characters), unique within the reply. */
class AttachmentNames {
  readonly #taken = new Set<string>();
  take(name: string): string {
    const base = name.replace(/[/\\]/g, "_").replace(/[^\w.-]/g, "_").replace(/^\.+/, "").slice(-100) || "file";
    let candidate = base;
    for (let counter = 2; this.#taken.has(candidate.toLowerCase()); counter += 1) {
      const dot = base.lastIndexOf(".");
      candidate = dot > 0 ? `${base.slice(0, dot)}-${counter}${base.slice(dot)}` : `${base}-${counter}`;
    }
    this.#taken.add(candidate.toLowerCase());
    return candidate;
  }
}

/** Packs units into messages within the text, component and attachment limits; a text unit too long is split. */
function pack(units: Unit[], accent: number): OutgoingMessage[] {
  const messages: OutgoingMessage[] = [];
  let children: APIComponentInContainer[] = [];
  let files: OutgoingFile[] = [];
  let textChars = 0;
  const finish = () => {
    if (children.length === 0) return;
    messages.push({ container: { type: ComponentType.Container, accent_color: accent, components: children }, files });
    children = [];
    files = [];
    textChars = 0;
  };
  // The container itself counts as one component.
  const fits = (addedText: number, addedComponents: number, addedFiles: number) =>
    textChars + addedText <= messageLimits.textChars &&
    1 + children.length + addedComponents <= messageLimits.components &&
    files.length + addedFiles <= messageLimits.attachments;
  const addText = (text: string) => {
    const last = children[children.length - 1];
    if (last?.type === ComponentType.TextDisplay && fits(text.length + 2, 0, 0)) {
      last.content = `${last.content}\n\n${text}`;
      textChars += text.length + 2;
      return;
    }
    if (!fits(text.length, 1, 0)) finish();
    children.push({ type: ComponentType.TextDisplay, content: text });
    textChars += text.length;
  };
  for (const unit of units) {
    if (unit.kind === "text") {
      for (const piece of splitText(unit.text, messageLimits.textChars)) addText(piece);
    } else if (unit.kind === "file") {
      if (!fits(0, 1, 1)) finish();
      children.push({ type: ComponentType.File, file: { url: `attachment://${unit.file.name}` } });
      files.push(unit.file);
    } else {
      if (!fits(0, 1, unit.files.length)) finish();
      children.push({
        type: ComponentType.MediaGallery,
        items: unit.files.map((file) => ({ media: { url: `attachment://${file.name}` } })),
      });
      files.push(...unit.files);
    }
  }
  finish();
  return messages;
}
