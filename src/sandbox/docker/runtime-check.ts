/**
 * THREADBOOK_SANDBOX_RUNTIME checked against the runtimes Docker has
 * registered, at start: otherwise a misspelt runtime fails only at the first
 * container start, with the cause in the log alone.
 */
import type Docker from "dockerode";
import { ConfigError } from "../../errors.ts";
import { dockerFailure } from "./docker-failure.ts";

/** Throws a ConfigError naming the setting and Docker's runtimes when `runtime` is not one of them. */
export async function checkRuntime(docker: Docker, runtime: string | undefined): Promise<void> {
  if (runtime === undefined) return;
  const info = (await docker.info().catch((error: unknown) => { throw dockerFailure(error, "Asking Docker for its runtimes"); })) as { Runtimes?: Record<string, unknown> };
  const offered = Object.keys(info.Runtimes ?? {}).sort();
  if (offered.includes(runtime)) return;
  const gvisorHint = runtime === "runsc" ? "; register gVisor's runsc in /etc/docker/daemon.json and restart dockerd (see README)" : "";
  throw new ConfigError([
    `THREADBOOK_SANDBOX_RUNTIME: Docker has no runtime named ${runtime}; it offers ${offered.length > 0 ? offered.join(", ") : "none"}${gvisorHint}`,
  ]);
}
