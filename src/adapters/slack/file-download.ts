/**
 * Files a user attached, fetched from `url_private_download` with the bot
 * token. The token goes only to Slack (an https host under slack.com) or to
 * the configured SLACK_API_URL's origin; every download is bounded by the
 * session's file-size limit before it is held whole.
 */
import { ThreadbookError } from "../../errors.ts";
import { formatBytes } from "../../core/format-size.ts";
import type { Attachment } from "../../core/turn.ts";
import type { PostedFile } from "./incoming-post.ts";

export interface DownloadOptions {
  botToken: string;
  /** The configured Web API base, whose origin may serve files too. */
  apiUrl: string | undefined;
  maxBytes: number;
}

/** A file that cannot be fetched: a ThreadbookError whose message is for the user. */
function rejected(message: string, details: Record<string, unknown> = {}): ThreadbookError {
  return new ThreadbookError("file_rejected", message, { details });
}

export async function downloadFiles(files: PostedFile[], options: DownloadOptions): Promise<Attachment[]> {
  const attachments: Attachment[] = [];
  for (const file of files) attachments.push({ name: file.name, data: await downloadFile(file, options) });
  return attachments;
}

async function downloadFile(file: PostedFile, options: DownloadOptions): Promise<Buffer> {
  const tooLarge = () => rejected(`${file.name} is larger than the ${formatBytes(options.maxBytes)} a file may be here (THREADBOOK_SANDBOX_FILE_MB).`);
  if (file.size > options.maxBytes) throw tooLarge();
  if (!mayReceiveToken(file.url, options.apiUrl)) {
    throw rejected(`${file.name} is not stored on Slack, so threadbook did not fetch it.`, { host: safeHost(file.url) });
  }
  let response: Response;
  try {
    response = await fetch(file.url, { headers: { Authorization: `Bearer ${options.botToken}` }, redirect: "manual", signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw rejected(`Could not download ${file.name} from Slack. Try again in a moment.`, { reason: error instanceof Error ? error.message : String(error) });
  }
  const type = response.headers.get("content-type") ?? "";
  if (response.status !== 200 || type.startsWith("text/html")) {
    await response.body?.cancel();
    // Slack answers a request it does not authorise with its sign-in page.
    throw rejected(
      `Could not download ${file.name}: Slack did not hand the file over. The app probably lacks the files:read scope; ask whoever installed threadbook to add it and reinstall the app.`,
      { status: response.status },
    );
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > options.maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const parts: Buffer[] = [];
  let total = 0;
  if (response.body !== null) {
    for await (const part of response.body) {
      total += part.byteLength;
      if (total > options.maxBytes) throw tooLarge();
      parts.push(Buffer.from(part));
    }
  }
  return Buffer.concat(parts);
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
