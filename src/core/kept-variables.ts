/**
 * A conversation's variables outlive its session: after each turn the
 * session's namespace is saved inside the sandbox (each name on its own,
 * opaque to the bot) and kept in the store; a new session for the
 * conversation (eviction, idle reaping, a killed container or kernel, a
 * Docker engine restart) gets them back before its first cell, and the model
 * and the user are told which names came back and which could not.
 */
import { ThreadbookError, userMessage } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { NameNotKept, Session } from "../sandbox/sandbox.ts";
import type { Store } from "../store/store.ts";

export interface VariablesRestoration {
  restored: string[];
  /** Names that could not come back: left out when saved, or failing to load. */
  notRestored: NameNotKept[];
  /** Why nothing came back, when nothing did for a reason the model should know. */
  note: string | null;
}

const maxListedNames = 40;

/** Saves the session's variables into the store; a failure is logged, never the turn's. */
export async function keepVariables(session: Session, store: Store, limitBytes: number, logger: Logger): Promise<void> {
  try {
    const outcome = await session.snapshot(limitBytes);
    const note = outcome.overLimit ? `The variables took more than ${Math.round(limitBytes / 1024 / 1024)} MB (THREADBOOK_SNAPSHOT_MB), so they were not kept.` : null;
    await store.saveSnapshot({ conversationKey: session.conversationKey, data: outcome.data, names: outcome.saved, skipped: outcome.skipped, note });
    logger.debug({ bytes: outcome.data?.length ?? 0, names: outcome.saved.length, skipped: outcome.skipped.length, overLimit: outcome.overLimit }, "variables kept");
  } catch (error) {
    if (!(error instanceof ThreadbookError)) throw error;
    logger.warn({ err: error }, "could not keep the conversation's variables");
  }
}

/** Puts the conversation's kept variables into a new session; null when none were kept. */
export async function restoreVariables(session: Session, store: Store, logger: Logger): Promise<VariablesRestoration | null> {
  try {
    const snapshot = await store.loadSnapshot(session.conversationKey);
    if (snapshot === null) return null;
    if (snapshot.data === null) return snapshot.note === null ? null : { restored: [], notRestored: snapshot.skipped, note: snapshot.note };
    const outcome = await session.restore(snapshot.data);
    logger.info({ restored: outcome.restored.length, failed: outcome.failed.length }, "variables put back into a new session");
    return { restored: outcome.restored, notRestored: [...snapshot.skipped, ...outcome.failed], note: null };
  } catch (error) {
    if (!(error instanceof ThreadbookError)) throw error;
    logger.warn({ err: error }, "could not put the conversation's variables back");
    return { restored: [], notRestored: [], note: `The variables kept from earlier could not be put back (${userMessage(error)}).` };
  }
}

/** For the model: which names are back, and which are not. */
export function describeVariables(restoration: VariablesRestoration): string {
  const paragraphs: string[] = [];
  if (restoration.restored.length > 0) {
    paragraphs.push(`The variables from the end of the previous turn were put back into the new session (modules imported again): ${listNames(restoration.restored)}.`);
  }
  if (restoration.notRestored.length > 0) {
    const lines = restoration.notRestored.slice(0, maxListedNames).map((name) => `- ${name.name}: ${name.why}`);
    if (restoration.notRestored.length > maxListedNames) lines.push(`- … and ${restoration.notRestored.length - maxListedNames} more`);
    paragraphs.push(`These could not be put back; recreate them if needed:\n${lines.join("\n")}`);
  }
  if (restoration.note !== null) paragraphs.push(restoration.note);
  return paragraphs.join("\n\n");
}

/** For the user, one line: what came back, what did not. */
export function variablesLine(restoration: VariablesRestoration): string {
  const parts: string[] = [];
  if (restoration.restored.length > 0) parts.push(`variables put back: ${listNames(restoration.restored)}`);
  if (restoration.notRestored.length > 0) parts.push(`not put back: ${listNames(restoration.notRestored.map((name) => name.name))}`);
  if (parts.length === 0) return restoration.note ?? "";
  return `(The Python session was restarted; ${parts.join("; ")}.)`;
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, maxListedNames).map((name) => `\`${name}\``);
  return names.length > maxListedNames ? `${shown.join(", ")} and ${names.length - maxListedNames} more` : shown.join(", ");
}
