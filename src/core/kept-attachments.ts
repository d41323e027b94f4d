/**
 * Attachments that outlive their session: the store keeps each file the
 * user attaches, and when the conversation's session is lost they are put
 * back into the new one under the names they had, as they were sent. Files
 * the code made are not kept.
 */
import { ThreadbookError, userMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { SandboxFileInfo, Session } from "../sandbox/sandbox.ts";
import type { AttachmentRecord, Store } from "../store/store.ts";
import type { PlacedAttachment } from "./attachments.ts";
import { formatBytes } from "./format-size.ts";

export interface Restoration {
  /** Put back into the working directory. */
  restored: SandboxFileInfo[];
  /** Kept but not put back, each with why. */
  skipped: { name: string; reason: string }[];
  /** Why nothing was put back, when the kept attachments could not be listed; null otherwise. */
  failure: string | null;
}

const maxListedFiles = 30;

/** Keeps each placed attachment; one that cannot be kept is logged, and the turn goes on without its copy. */
export async function keepAttachments(store: Store, conversationKey: string, placed: PlacedAttachment[], logger: Logger): Promise<void> {
  for (const file of placed) {
    try {
      await store.recordAttachment({ conversationKey, name: file.name, data: file.data });
    } catch (error) {
      if (!(error instanceof ThreadbookError)) throw error;
      logger.warn({ err: error, name: file.name }, "could not keep an attachment; a new session will not have it");
    }
  }
}

/**
 * Puts the conversation's kept attachments into the session. A failure is
 * not the turn's: what could not be put back is said in the result.
 */
export async function restoreAttachments(session: Session, store: Store, logger: Logger): Promise<Restoration> {
  const restoration: Restoration = { restored: [], skipped: [], failure: null };
  let kept: AttachmentRecord[];
  try {
    kept = newestByName(await store.listAttachments(session.conversationKey));
  } catch (error) {
    if (!(error instanceof ThreadbookError)) throw error;
    logger.warn({ err: error }, "could not list the kept attachments; none restored");
    return { ...restoration, failure: userMessage(error) };
  }
  for (const attachment of kept) {
    try {
      const data = await store.readAttachment(attachment);
      if (data === null) {
        logger.warn({ name: attachment.name, path: attachment.path }, "a kept attachment's file is missing; not restored");
        restoration.skipped.push({ name: attachment.name, reason: "threadbook no longer has its copy." });
        continue;
      }
      // One file at a time: memory holds one at most, and a file the session refuses skips only itself.
      restoration.restored.push(...(await session.putFiles([{ name: attachment.name, data }])));
    } catch (error) {
      if (!(error instanceof ThreadbookError)) throw error;
      logger.warn({ err: error, name: attachment.name }, "could not restore a kept attachment");
      restoration.skipped.push({ name: attachment.name, reason: userMessage(error) });
    }
  }
  if (kept.length > 0) logger.info({ restored: restoration.restored.length, skipped: restoration.skipped.length }, "attachments restored");
  return restoration;
}

/** What the model is told about the files put back; empty when there were none to put back. */
export function describeRestoration(restoration: Restoration): string {
  const paragraphs: string[] = [];
  if (restoration.restored.length > 0) {
    const lines = restoration.restored.map((file) => `- ${file.name} (${formatBytes(file.bytes)})`);
    paragraphs.push(`The files the user attached earlier were put back in the working directory, as they were sent:\n${bounded(lines)}`);
  }
  if (restoration.skipped.length > 0) {
    const lines = restoration.skipped.map((file) => `- ${file.name}: ${file.reason}`);
    paragraphs.push(`These files the user attached earlier could not be put back; ask the user to attach them again if they are needed:\n${bounded(lines)}`);
  }
  if (restoration.failure !== null) {
    paragraphs.push(`The files the user attached earlier could not be put back (${restoration.failure}); ask the user to attach them again if they are needed.`);
  }
  return paragraphs.join("\n\n");
}

/**
 * The newest attachment of each name. Two share a name only when the earlier
 * was gone from the session when the later was placed, so the later is the
 * one the session last had.
 */
function newestByName(attachments: AttachmentRecord[]): AttachmentRecord[] {
  const byName = new Map<string, AttachmentRecord>();
  for (const attachment of attachments) {
    byName.delete(attachment.name);
    byName.set(attachment.name, attachment);
  }
  return [...byName.values()];
}

function bounded(lines: string[]): string {
  const shown = lines.slice(0, maxListedFiles);
  if (lines.length > shown.length) shown.push(`- and ${lines.length - shown.length} more`);
  return shown.join("\n");
}
