/**
 * Whether a turn continues the conversation's session. The store remembers
 * which session id was bound to each conversation; a different id now means
 * the earlier one was lost (reaped when idle, crashed, replaced) and its
 * variables and files with it; the user's attachments are put back
 * (kept-attachments.ts).
 */
import type { ConversationRecord } from "../store/store.ts";
import type { Session } from "../sandbox/sandbox.ts";

export type SessionContinuity = "new" | "resumed" | "lost";

export function sessionContinuity(conversation: ConversationRecord | null, hasTranscript: boolean, session: Session): SessionContinuity {
  const bound = conversation?.sessionId ?? null;
  if (bound !== null && bound === session.id) return "resumed";
  if (bound !== null || hasTranscript) return "lost";
  return session.origin;
}

/** Told to the model instead when the lost session's variables were put back into the new one. */
export const SESSION_REPLACED_NOTE =
  "Note: the Python session of this conversation was lost (it expired after being idle, crashed or was replaced) and a new one was started. " +
  "The variables from the end of the previous turn were put back, as listed below; the files the code made then are gone.";

/** Told to the model at the start of a turn whose conversation lost its session. */
export const SESSION_LOST_NOTE =
  "Note: the Python session of this conversation was lost (it expired after being idle, crashed or was replaced) and a new one was started. " +
  "Every variable and import from the earlier messages is gone, and so are the files the code made then. " +
  "Recreate what you need; if a file the user attached earlier is needed but not in the working directory, ask them to attach it again.";
