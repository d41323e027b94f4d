/**
 * Why a turn is stopped, carried as its AbortSignal's reason: a person
 * (a Stop button, `/stop`, a `/reset` in the middle of a turn) or the
 * process shutting down.
 */
export type StopReason =
  | { kind: "user"; by: string }
  | { kind: "shutdown" };

export const shutdownMessage = "The turn was stopped because threadbook is shutting down.";

/** The stop reason behind an aborted signal; a bare abort counts as a person unknown. */
export function stopReasonOf(signal: AbortSignal): StopReason | null {
  if (!signal.aborted) return null;
  const reason = signal.reason as Partial<StopReason> | undefined;
  if (reason?.kind === "shutdown") return { kind: "shutdown" };
  if (reason?.kind === "user" && typeof reason.by === "string") return { kind: "user", by: reason.by };
  return { kind: "user", by: "someone" };
}

/** Thrown inside a turn to unwind it once it is stopped; never leaves the core. */
export class TurnStoppedSignal extends Error {
  readonly reason: StopReason;
  constructor(reason: StopReason) {
    super(reason.kind === "shutdown" ? shutdownMessage : `stopped by ${reason.by}`);
    this.name = "TurnStoppedSignal";
    this.reason = reason;
  }
}
