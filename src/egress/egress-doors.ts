/**
 * The doors of this process's sessions: one directory per session container
 * under `<data dir>/egress/`, named by a random token the container carries
 * as a label, holding the door's socket. The directory, not the socket, is
 * mounted into the container, so a door opened again after a restart of the
 * bot (a new socket in the same directory) is seen by a container that kept
 * running.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { EgressDoor } from "./egress-door.ts";
import type { EgressGrant } from "./egress-grant.ts";
import { PACKAGE_CACHE_HOST, type PackageCache } from "./package-cache.ts";

const socketName = "egress.sock";
const tokenPattern = /^[0-9a-f]{24}$/;

export class EgressDoors {
  readonly #root: string;
  readonly #logger: Logger;
  readonly #doors = new Map<string, EgressDoor>();
  readonly #cache: PackageCache | undefined;

  /**
   * `root`: a directory of this bot's own (e.g. `<data dir>/egress`); made if missing.
   * `cache`: pip's index, served to every door at http://pip.threadbook.internal/simple/.
   */
  constructor(root: string, logger: Logger, cache?: PackageCache) {
    this.#root = root;
    this.#logger = logger;
    this.#cache = cache;
  }

  /** The index URL sessions give pip: the cache's, where there is one. */
  get pipIndexUrl(): string | undefined {
    return this.#cache === undefined ? undefined : `http://${PACKAGE_CACHE_HOST}/simple/`;
  }

  /** A new door: its token and the host directory to mount into the container. */
  async open(): Promise<{ token: string; directory: string }> {
    const token = randomBytes(12).toString("hex");
    return { token, directory: await this.#listen(token) };
  }

  /** Opens the door of a container this process did not start (it kept running across a restart); false for a token that is none of ours. */
  async reopen(token: string): Promise<boolean> {
    if (!tokenPattern.test(token)) return false;
    if (this.#doors.has(token)) return true;
    await this.#listen(token);
    return true;
  }

  /** Gives the door the turn now holding its session; undefined: every request is refused. */
  grant(token: string, grant: EgressGrant | undefined): void {
    this.#doors.get(token)?.grant(grant);
  }

  /** Closes the door and removes its directory. */
  async close(token: string): Promise<void> {
    if (!tokenPattern.test(token)) return;
    const door = this.#doors.get(token);
    this.#doors.delete(token);
    await door?.close().catch((error: unknown) => this.#logger.warn({ err: error }, "closing an egress door failed"));
    rmSync(join(this.#root, token), { recursive: true, force: true });
  }

  /** Closes every door of this process (their directories stay for a next process to reopen). */
  async closeAll(): Promise<void> {
    const doors = [...this.#doors.values()];
    this.#doors.clear();
    await Promise.all(doors.map((door) => door.close().catch(() => undefined)));
  }

  async #listen(token: string): Promise<string> {
    mkdirSync(this.#root, { recursive: true, mode: 0o700 });
    const directory = join(this.#root, token);
    mkdirSync(directory, { recursive: true });
    // Mounted at its own path in the container: the forwarder's user must pass through it.
    chmodSync(directory, 0o755);
    const socketPath = join(directory, socketName);
    // A Unix socket's path holds at most 107 bytes.
    if (Buffer.byteLength(socketPath) > 107) throw new Error(`The door's socket path ${socketPath} is over 107 bytes; use a shorter THREADBOOK_DATA_DIR.`);
    const door = new EgressDoor(socketPath, this.#logger.child({ egress: token }), this.#cache);
    await door.listen();
    this.#doors.set(token, door);
    return directory;
  }
}
