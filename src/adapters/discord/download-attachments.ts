/**
 * Files a user gave, as the core fetches them once their turn is admitted:
 * from Discord's CDN (the attachment's `url`). The core bounds the bytes
 * (the size Discord reports is checked first) and how many download at once.
 */
import type { IncomingBody, IncomingFile } from "../../core/turn.ts";
import { ThreadbookError } from "../../errors.ts";

export interface IncomingAttachment {
  name: string;
  url: string;
  /** As Discord reports it. */
  size: number;
}

/** How long one download may take, its bytes included. */
const downloadTimeoutMs = 60_000;

export function incomingFiles(files: readonly IncomingAttachment[]): IncomingFile[] {
  return files.map((file) => ({ name: file.name, bytes: file.size, open: (signal) => openDownload(file, signal) }));
}

async function openDownload(file: IncomingAttachment, signal: AbortSignal): Promise<IncomingBody> {
  const failed = (details: Record<string, unknown>) => new ThreadbookError("file_rejected", `Could not download ${file.name} from Discord. Try again in a moment.`, { details });
  if (!/^https?:\/\//.test(file.url)) throw failed({ reason: "not an http(s) URL" });
  let response: Response;
  try {
    response = await fetch(file.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(downloadTimeoutMs)]), redirect: "follow" });
  } catch (error) {
    signal.throwIfAborted();
    throw failed({ reason: error instanceof Error ? error.message : String(error) });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw failed({ status: response.status });
  }
  const stated = response.headers.get("content-length");
  return { body: response.body, statedBytes: stated === null ? null : Number(stated) };
}
