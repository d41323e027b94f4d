/** A threadbook the adapter contract drives as a child process, as users and scripts run it. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ContractSetup } from "../adapter-contract.ts";

export const mainScript = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/**
 * The child's environment: of this process only PATH, HOME and DOCKER_HOST;
 * the contract's settings; its own data directory under `root` and its own
 * Docker instance, with small sessions; then the platform's own settings.
 */
export function contractProcessEnv(setup: ContractSetup, root: string, instance: string, platform: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? root,
    ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
    ...setup.settings,
    THREADBOOK_DATA_DIR: join(root, "data"),
    THREADBOOK_INSTANCE: instance,
    THREADBOOK_SANDBOX_POOL_SIZE: "1",
    THREADBOOK_SANDBOX_MEMORY_MB: "384",
    ...platform,
  };
}
