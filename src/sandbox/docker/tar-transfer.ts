/**
 * The session's skills into its container by streaming tar through exec, as
 * root (the /skills tmpfs is root's). Docker's archive API cannot write into
 * a tmpfs mount. Files of the working directory go through file-transfer.ts.
 */
import type Docker from "dockerode";
import * as tar from "tar-stream";
import { SandboxError } from "../../errors.ts";
import { execInContainer } from "./container-exec.ts";

export interface TransferTarget {
  container: Docker.Container;
  modem: Docker["modem"];
  user: string;
  workdir: string;
}

/** How long writing a session's skills, or clearing them, may take. */
const SKILL_EXEC_MS = 60_000;

/** Runs a command in the target's working directory as its user; throws with its stderr when it exits non-zero. */
export async function runInTarget(target: TransferTarget, command: string[]): Promise<void> {
  await checked(target, command, undefined);
}

/** A tar archive of the files, each a regular file, 0644, dated now. */
export async function tarOf(files: readonly { name: string; data: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const now = new Date();
  for (const file of files) pack.entry({ name: file.name, size: file.data.length, mode: 0o644, mtime: now }, file.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes files (names relative to the target's directory) as the target's user. */
export async function putFilesByTar(target: TransferTarget, files: { name: string; data: Buffer }[]): Promise<void> {
  await checked(target, ["tar", "-x", "-f", "-", "-C", target.workdir, "--no-same-owner", "--no-same-permissions"], await tarOf(files));
}

async function checked(target: TransferTarget, command: string[], input: Buffer | undefined): Promise<void> {
  const outcome = await execInContainer(target, command, { user: target.user, workdir: target.workdir, input, timeoutMs: SKILL_EXEC_MS, doing: "Writing the session's skills" });
  if (outcome.exitCode !== 0) {
    throw new SandboxError("sandbox_failed", "Writing the session's skills failed.", { retryable: true, details: { command: command[0], exitCode: outcome.exitCode, stderr: outcome.stderr.slice(0, 2000) } });
  }
}
