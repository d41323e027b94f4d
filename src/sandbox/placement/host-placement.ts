/**
 * Sessions placed over several engines (THREADBOOK_DOCKER_HOSTS), as one
 * Sandbox. Each host keeps its own warm pool, sweep, reaper and
 * `maxSessions`; the placement only decides where a conversation's session
 * lives:
 *
 * - a conversation goes back to the host that holds its session: the one
 *   remembered here, or, for one this process does not know (a restart, a
 *   replica's), the host where a container under its name runs;
 * - a new one goes to the host with the most free slots (most-room.ts);
 * - a host that stops answering (a failed ping, or Docker unreachable on an
 *   acquire) is marked down: its conversations get new sessions elsewhere,
 *   which the core sees as a new session id, as after any lost session (the
 *   kept variables and attachments put back, the model told); a health check
 *   brings it back at its first answer, and ends the
 *   sessions there of conversations that moved away meanwhile.
 */
import { SandboxError } from "../../errors.ts";
import { KeyedQueue } from "../../keyed-queue.ts";
import type { Logger } from "../../log.ts";
import type { AcquireOptions, Sandbox, Session } from "../sandbox.ts";
import type { SessionCensus } from "../session-census.ts";
import { byMostRoom } from "./most-room.ts";
import type { HostEntry, StartedHost } from "./placement-host.ts";

export interface HostPlacementOptions {
  hosts: readonly HostEntry[];
  logger: Logger;
  /** How often every host is asked whether it answers (and a host down at start is started). */
  healthIntervalMs: number;
  /** How long a host's answer to the health check may take before it counts as down. */
  pingTimeoutMs?: number;
}

/** One engine and what the placement knows of it. */
interface Host {
  readonly entry: HostEntry;
  started: StartedHost | undefined;
  up: boolean;
  /** A start under way (at the start, or by the health check), so it is never started twice. */
  starting: Promise<void> | undefined;
  /** Sessions being acquired here now, counted as taken before the host counts them itself. */
  placing: number;
  /** Conversations that moved away while it was down: their sessions here are ended when it answers again. */
  readonly movedAway: Set<string>;
}

function isUnreachable(error: unknown): boolean {
  return error instanceof SandboxError && error.code === "docker_unavailable";
}

export class HostPlacement implements Sandbox {
  readonly #hosts: Host[];
  readonly #logger: Logger;
  readonly #pingTimeoutMs: number;
  /** Conversation → the host its session is on. */
  readonly #placed = new Map<string, Host>();
  /** One acquire, release or detach at a time per conversation, so it is never placed twice. */
  readonly #locks = new KeyedQueue();
  #health: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #closing = false;

  private constructor(options: HostPlacementOptions) {
    this.#hosts = options.hosts.map((entry) => ({ entry, started: undefined, up: false, starting: undefined, placing: 0, movedAway: new Set<string>() }));
    this.#logger = options.logger;
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 5_000;
  }

  /** Starts every host; fails only when none starts (with the first host's error). The others are started by the health check once they answer. */
  static async start(options: HostPlacementOptions): Promise<HostPlacement> {
    const placement = new HostPlacement(options);
    const outcomes = await Promise.allSettled(placement.#hosts.map((host) => placement.#startHost(host)));
    if (!placement.#hosts.some((host) => host.up)) {
      await placement.close();
      const first = outcomes.find((outcome) => outcome.status === "rejected");
      throw first?.reason ?? new SandboxError("docker_unavailable", "No Docker engine of THREADBOOK_DOCKER_HOSTS could be started.", { retryable: true });
    }
    placement.#health = setInterval(() => void placement.checkHealth(), options.healthIntervalMs);
    placement.#health.unref();
    return placement;
  }

  acquire(conversationKey: string, options: AcquireOptions = {}): Promise<Session> {
    return this.#locks.run(conversationKey, () => this.#acquireUnlocked(conversationKey, options));
  }

  release(conversationKey: string): Promise<void> {
    return this.#locks.run(conversationKey, async () => {
      const host = this.#placed.get(conversationKey);
      this.#placed.delete(conversationKey);
      // Not known here (an earlier process's session): wherever it may be.
      const hosts = host === undefined ? this.#hosts.filter((each) => each.up) : [host];
      await Promise.all(hosts.map(async (each) => {
        try {
          if (each.up) return await this.#started(each).sandbox.release(conversationKey);
        } catch (error) {
          if (!isUnreachable(error)) throw error;
          this.#markDown(each, error);
        }
        // Ended when the host answers again.
        each.movedAway.add(conversationKey);
      }));
    });
  }

  detach(conversationKey: string): Promise<void> {
    return this.#locks.run(conversationKey, async () => {
      const host = this.#placed.get(conversationKey);
      if (host?.up) await this.#started(host).sandbox.detach(conversationKey);
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#health) clearInterval(this.#health);
    await this.#checking;
    await Promise.all(this.#hosts.map((host) => host.starting?.catch(() => undefined)));
    await Promise.all(this.#hosts.map((host) => host.started?.sandbox.close()));
  }

  /** The hosts by name, and whether each is in use now; for operators and tests. */
  hosts(): { name: string; up: boolean; live: number; max: number }[] {
    return this.#hosts.map((host) => ({ name: host.entry.name, up: host.up, ...(host.started?.sandbox.capacity() ?? { live: 0, max: 0 }) }));
  }

  /** The name of the host the conversation's session is placed on, if this process knows it. */
  hostOf(conversationKey: string): string | undefined {
    return this.#placed.get(conversationKey)?.entry.name;
  }

  /** The censuses of the hosts started so far (a host down at start has none yet). */
  censuses(): SessionCensus[] {
    return this.#hosts.flatMap((host) => (host.started === undefined ? [] : [host.started.census]));
  }

  /**
   * Asks every host whether it answers: one that does not is marked down, one
   * that does is marked up (started first, if it never was). Runs on its
   * interval; callable at once. One check at a time.
   */
  checkHealth(): Promise<void> {
    this.#checking ??= Promise.all(this.#hosts.map((host) => this.#checkHost(host))).then(() => undefined).finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #checkHost(host: Host): Promise<void> {
    if (this.#closing) return;
    if (host.started === undefined) {
      // Not awaited: a start may take long (an engine that accepts and then hangs), and the other hosts' checks go on meanwhile.
      void this.#startHost(host).catch(() => undefined);
      return;
    }
    try {
      await host.started.sandbox.ping(this.#pingTimeoutMs);
    } catch (error) {
      this.#markDown(host, error);
      return;
    }
    if (!host.up) this.#markUp(host);
  }

  /** Starts the host, or joins the start under way. */
  #startHost(host: Host): Promise<void> {
    host.starting ??= (async () => {
      let started: StartedHost;
      try {
        started = await host.entry.start();
      } catch (error) {
        this.#logger.warn({ host: host.entry.name, err: error }, "a Docker host could not be started; trying again at the next health check");
        throw error;
      }
      if (this.#closing) {
        await started.sandbox.close();
        return;
      }
      host.started = started;
      host.up = true;
      this.#logger.info({ host: host.entry.name }, "Docker host in use");
    })().finally(() => {
      host.starting = undefined;
    });
    return host.starting;
  }

  #markDown(host: Host, error: unknown): void {
    if (!host.up) return;
    host.up = false;
    this.#logger.warn({ host: host.entry.name, err: error }, "Docker host stopped answering; its conversations get new sessions on the other hosts");
  }

  #markUp(host: Host): void {
    host.up = true;
    this.#logger.info({ host: host.entry.name }, "Docker host answers again; back in use");
    const moved = [...host.movedAway];
    host.movedAway.clear();
    // Their conversations have sessions elsewhere now; what is left of the old ones here only holds slots.
    for (const conversationKey of moved) {
      void this.#locks.run(conversationKey, async () => {
        if (this.#placed.get(conversationKey) === host) return;
        await this.#started(host).sandbox.release(conversationKey);
      }).catch((error: unknown) => this.#logger.warn({ host: host.entry.name, err: error }, "could not end a session left on a host that answers again"));
    }
  }

  #started(host: Host): StartedHost {
    if (host.started === undefined) throw new Error(`host ${host.entry.name} was never started`);
    return host.started;
  }

  async #acquireUnlocked(conversationKey: string, options: AcquireOptions): Promise<Session> {
    const remembered = this.#placed.get(conversationKey) ?? (await this.#findHolder(conversationKey));
    if (remembered?.up) {
      try {
        return await this.#acquireOn(remembered, conversationKey, options);
      } catch (error) {
        if (!isUnreachable(error)) throw error;
        this.#markDown(remembered, error);
      }
    }
    if (remembered !== undefined && !remembered.up) {
      remembered.movedAway.add(conversationKey);
      this.#logger.warn({ host: remembered.entry.name }, "the conversation's Docker host does not answer; starting a new session on another host");
    }
    this.#placed.delete(conversationKey);
    let busy: unknown;
    let unreachable: unknown;
    for (const host of this.#byMostRoom()) {
      try {
        return await this.#acquireOn(host, conversationKey, options);
      } catch (error) {
        if (isUnreachable(error)) {
          this.#markDown(host, error);
          unreachable ??= error;
        } else if (error instanceof SandboxError && error.code === "sandbox_busy") {
          busy ??= error;
        } else {
          throw error;
        }
      }
    }
    if (busy !== undefined) {
      throw new SandboxError("sandbox_busy", "Every Python session on every Docker host is in use (THREADBOOK_MAX_SESSIONS on each of THREADBOOK_DOCKER_HOSTS). Try again in a minute.", { retryable: true, cause: busy });
    }
    throw new SandboxError("docker_unavailable", "No Docker host answers, so code cannot run. Try again in a minute.", { retryable: true, cause: unreachable });
  }

  async #acquireOn(host: Host, conversationKey: string, options: AcquireOptions): Promise<Session> {
    host.placing += 1;
    try {
      const session = await this.#started(host).sandbox.acquire(conversationKey, options);
      this.#placed.set(conversationKey, host);
      return session;
    } finally {
      host.placing -= 1;
    }
  }

  /** The host where the conversation's session runs, for one this process has not placed; asked of every host that answers. */
  async #findHolder(conversationKey: string): Promise<Host | undefined> {
    const holding = await Promise.all(this.#hosts.map(async (host) => {
      if (!host.up) return false;
      return this.#started(host).sandbox.holds(conversationKey).catch((error: unknown) => {
        if (isUnreachable(error)) this.#markDown(host, error);
        return false;
      });
    }));
    return this.#hosts.find((_, index) => holding[index]);
  }

  #byMostRoom(): Host[] {
    const up = this.#hosts.filter((host) => host.up);
    return byMostRoom(up, (host) => {
      const { live, max } = this.#started(host).sandbox.capacity();
      return { live: live + host.placing, max };
    });
  }
}
