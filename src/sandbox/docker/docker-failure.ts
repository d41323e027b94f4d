/**
 * Docker's own failures (a refused socket, a 500 from the engine, a broken
 * stream) as the plain, typed errors the core shows a user.
 */
import { timedOut, within } from "../../deadline.ts";
import { SandboxError } from "../../errors.ts";

/** How long one call to the Docker engine may take before it counts as not answering. */
export const DOCKER_CALL_MS = 30_000;

export function dockerFailure(error: unknown, doing = "Starting a Python session"): SandboxError {
  if (error instanceof SandboxError) return error;
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "ENOENT" || code === "EACCES") {
    return new SandboxError("docker_unavailable", "Docker stopped answering, so code cannot run. Start Docker and try again.", { retryable: true, cause: error });
  }
  return new SandboxError("sandbox_failed", `${doing} failed. The details are in the log.`, { retryable: true, cause: error });
}

/**
 * A call to the Docker engine, with a deadline: an engine that hangs is said
 * as one that stopped answering (retryable), never waited on for ever. The
 * call itself goes on in the background; its late outcome is dropped.
 */
export async function dockerCall<T>(doing: string, call: Promise<T>, milliseconds = DOCKER_CALL_MS): Promise<T> {
  call.catch(() => undefined);
  let outcome: T | typeof timedOut;
  try {
    outcome = await within(call, milliseconds);
  } catch (error) {
    // "No such container" is an answer the caller acts on, not a failure.
    if ((error as { statusCode?: number }).statusCode === 404) throw error;
    throw dockerFailure(error, doing);
  }
  if (outcome === timedOut) {
    throw new SandboxError("docker_unavailable", "Docker stopped answering, so code cannot run. Try again in a minute.", { retryable: true, details: { doing, waitedMs: milliseconds } });
  }
  return outcome;
}
