/**
 * Files a user attached, as the core fetches them once their turn is
 * admitted: from `url_private_download` with the bot token. The token goes
 * only to Slack (an https host under slack.com) or to the configured
 * SLACK_API_URL's origin. The core bounds the bytes and how many download at once.
 */
import { ThreadbookError } from "../../errors.ts";
import type { IncomingBody, IncomingFile } from "../../core/turn.ts";
import type { PostedFile } from "./incoming-post.ts";

export interface DownloadOptions {
  botToken: string;
  /** The configured Web API base, whose origin may serve files too. */
  apiUrl: string | undefined;
}

/** How long one download may take, its bytes included. */
const downloadTimeoutMs = 60_000;

/** A file that cannot be fetched: a ThreadbookError whose message is for the user. */
function rejected(message: string, details: Record<string, unknown> = {}): ThreadbookError {
  return new ThreadbookError("file_rejected", message, { details });
}

export function incomingFiles(files: PostedFile[], options: DownloadOptions): IncomingFile[] {
  return files.map((file) => ({ name: file.name, bytes: file.size, open: (signal) => openDownload(file, options, signal) }));
}

async function openDownload(file: PostedFile, options: DownloadOptions, signal: AbortSignal): Promise<IncomingBody> {
  if (!mayReceiveToken(file.url, options.apiUrl)) {
    throw rejected(`${file.name} is not stored on Slack, so threadbook did not fetch it.`, { host: safeHost(file.url) });
  }
  let response: Response;
  try {
    response = await fetch(file.url, {
      headers: { Authorization: `Bearer ${options.botToken}` },
      redirect: "manual",
      signal: AbortSignal.any([signal, AbortSignal.timeout(downloadTimeoutMs)]),
    });
  } catch (error) {
    signal.throwIfAborted();
    throw rejected(`Could not download ${file.name} from Slack. Try again in a moment.`, { reason: error instanceof Error ? error.message : String(error) });
  }
  const type = response.headers.get("content-type") ?? "";
  if (response.status !== 200 || type.startsWith("text/html") || response.body === null) {
    await response.body?.cancel();
    // Slack answers a request it does not authorise with its sign-in page.
    throw rejected(
      `Could not download ${file.name}: Slack did not hand the file over. The app probably lacks the files:read scope; ask whoever installed threadbook to add it and reinstall the app.`,
      { status: response.status },
    );
  }
  const stated = response.headers.get("content-length");
  return { body: response.body, statedBytes: stated === null ? null : Number(stated) };
}

function mayReceiveToken(url: string, apiUrl: string | undefined): boolean {
  if (!URL.canParse(url)) return false;
  const target = new URL(url);
  if (apiUrl !== undefined && target.origin === new URL(apiUrl).origin) return true;
  return target.protocol === "https:" && (target.hostname === "slack.com" || target.hostname.endsWith(".slack.com"));
}

function safeHost(url: string): string {
  return URL.canParse(url) ? new URL(url).host : "(not a URL)";
}
