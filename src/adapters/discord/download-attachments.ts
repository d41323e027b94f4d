/**
 * Files a user gave, fetched from Discord's CDN (the attachment's `url`),
 * each bounded by the session's file-size limit before it is buffered whole:
 * the size Discord reports is checked first, and the bytes as they arrive.
 */
import { formatBytes } from "../../core/format-size.ts";
import type { Attachment } from "../../core/turn.ts";

export interface IncomingAttachment {
  name: string;
  url: string;
  /** As Discord reports it. */
  size: number;
}

export interface Downloaded {
  attachments: Attachment[];
  /** A plain line for each file not taken, for the user. */
  refused: string[];
}

const downloadTimeoutMs = 60_000;

export async function downloadAttachments(files: readonly IncomingAttachment[], maxBytes: number): Promise<Downloaded> {
  const attachments: Attachment[] = [];
  const refused: string[] = [];
  for (const file of files) {
    if (file.size > maxBytes) {
      refused.push(`${file.name} (${formatBytes(file.size)}) is over the ${formatBytes(maxBytes)} limit for a file, so it was not used.`);
      continue;
    }
    try {
      attachments.push({ name: file.name, data: await download(file.url, maxBytes) });
    } catch (error) {
      refused.push(`${file.name} could not be downloaded${error instanceof TooLarge ? ` (over the ${formatBytes(maxBytes)} limit for a file)` : ""}, so it was not used.`);
    }
  }
  return { attachments, refused };
}

class TooLarge extends Error {}

async function download(url: string, maxBytes: number): Promise<Buffer> {
  if (!/^https?:\/\//.test(url)) throw new Error("not an http(s) URL");
  const response = await fetch(url, { signal: AbortSignal.timeout(downloadTimeoutMs), redirect: "follow" });
  if (!response.ok || response.body === null) throw new Error(`status ${response.status}`);
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body.cancel();
    throw new TooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new TooLarge();
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, total);
}
