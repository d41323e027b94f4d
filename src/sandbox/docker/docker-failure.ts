/**
 * Docker's own failures (a refused socket, a 500 from the engine, a broken
 * stream) as the plain, typed errors the core shows a user.
 */
import { SandboxError } from "../../errors.ts";

export function dockerFailure(error: unknown, doing = "Starting a Python session"): SandboxError {
  if (error instanceof SandboxError) return error;
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "ENOENT" || code === "EACCES") {
    return new SandboxError("docker_unavailable", "Docker stopped answering, so code cannot run. Start Docker and try again.", { retryable: true, cause: error });
  }
  return new SandboxError("sandbox_failed", `${doing} failed. The details are in the log.`, { retryable: true, cause: error });
}
