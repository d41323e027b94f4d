/**
 * The sandbox image: its tag is a hash of what goes into it (the same recipe
 * as sandbox/build.sh), so a current image is reused and a changed one rebuilt.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { SandboxError } from "../../errors.ts";
import type { Logger } from "../../log.ts";

export const SANDBOX_SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "sandbox");
const IMAGE_REPOSITORY = "threadbook-sandbox";

/**
 * `threadbook-sandbox:<16 hex>`: sha256 over sandbox/Dockerfile, then each
 * sandbox/runtime/*.py in name order, its name on a line and then its bytes.
 */
export function currentImageTag(): string {
  const hash = createHash("sha256");
  hash.update(readFileSync(join(SANDBOX_SOURCE_DIR, "Dockerfile")));
  const runtime = join(SANDBOX_SOURCE_DIR, "runtime");
  const files = readdirSync(runtime).filter((name) => name.endsWith(".py")).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const file of files) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(runtime, file)));
  }
  return `${IMAGE_REPOSITORY}:${hash.digest("hex").slice(0, 16)}`;
}

export async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

/**
 * Builds the image with sandbox/build.sh (which makes a base image from
 * Debian's packages where no registry answers). Takes minutes, once.
 */
export function buildImage(logger: Logger, onLine: (line: string) => void = () => {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(SANDBOX_SOURCE_DIR, "build.sh")], { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const take = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) if (line.trim()) onLine(line.trim());
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (error) => reject(new SandboxError("image_build_failed", "Could not start the sandbox image build (bash sandbox/build.sh).", { cause: error })));
    child.on("close", (code) => {
      if (code === 0) return resolve();
      logger.error({ exitCode: code, output: tail }, "sandbox image build failed");
      reject(new SandboxError("image_build_failed", `Building the sandbox image failed (exit ${code}). Run 'bash sandbox/build.sh' to see why.`, { details: { output: tail } }));
    });
  });
}
