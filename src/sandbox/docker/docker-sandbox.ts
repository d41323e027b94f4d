/**
 * The Docker sandbox: one container per conversation, named after it so a new
 * process finds it again; a warm pool of started containers with the runner
 * ready; idle sessions reaped; at most `maxSessions` live, the least recently
 * used idle one removed to make room; leftovers of a crash removed at start.
 */
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import Docker from "dockerode";
import { SandboxError } from "../../errors.ts";
import { KeyedQueue } from "../../keyed-queue.ts";
import type { Logger } from "../../log.ts";
import type { AcquireOptions, Sandbox, Session } from "../sandbox.ts";
import type { EgressDoors } from "../../egress/egress-doors.ts";
import type { PlacementHost } from "../placement/placement-host.ts";
import { containerSpec, LABEL_EGRESS, LABEL_INSTANCE, LABEL_OWNER, type ContainerLimits } from "./container-spec.ts";
import { DockerSession, type LiveContainer, type SessionHost } from "./docker-session.ts";
import { WarmPool } from "./warm-pool.ts";
import { dockerCall, dockerFailure } from "./docker-failure.ts";
import { buildImage, currentImageTag, imageExists } from "./image.ts";
import { defaultDiagnosticsBounds, RunnerChannel, type ChannelBounds } from "./runner-channel.ts";
import { maxReplyLineBytes, pingReply } from "./runner-replies.ts";
import { checkRuntime } from "./runtime-check.ts";
import { writeSkills } from "./skill-files.ts";

export interface DockerSandboxOptions {
  /** Names and labels this process's containers; two instances never touch each other's. */
  instance: string;
  /** Image tag; defaults to the current sandbox image. */
  image?: string;
  limits: ContainerLimits;
  poolSize: number;
  /** Session containers live at once; past it the least recently used idle session is removed. Unbounded when absent. */
  maxSessions?: number;
  idleTtlMs: number;
  cellTimeoutMs: number;
  outputBytes: number;
  logger: Logger;
  /** e.g. "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375"; Docker's default otherwise. */
  dockerHost?: string;
  /** Build the image when it is missing (minutes, once) instead of failing. */
  buildMissingImage?: boolean;
  /** Told about slow preparation (an image build), for showing the user. */
  onStatus?: (message: string) => void;
  /**
   * A door out for every session container (a proxy on a Unix socket, mounted
   * in), with pip's package directory and index; absent: no network at all.
   */
  egress?: { doors: EgressDoors; packagesMb: number; pipIndexUrl: string | undefined };
  /**
   * Replicas of the bot on other machines use this engine too: a container
   * labelled by another host's process is taken to be live (that process
   * cannot be checked from here), so it is neither removed at start, nor
   * reaped, nor evicted; the replicas end idle sessions through the store
   * (core/idle-sessions.ts), under each conversation's lease.
   */
  sharedEngine?: boolean;
}

const READY_TIMEOUT_MS = 90_000;
/** An engine that does not answer its first ping in this long counts as not running (an unreachable TCP host may never refuse). */
const START_PING_MS = 10_000;
const PROCESS_OWNER = `${hostname()}:${process.pid}`;

/** Whether a container belongs to another process on this host that still runs, or, on an engine shared with other machines, to another host's. */
function ownedByLiveProcess(owner: string | undefined, sharedEngine = false): boolean {
  if (!owner || owner === PROCESS_OWNER) return false;
  const [host, pid] = owner.split(":");
  if (host !== hostname()) return sharedEngine;
  if (!pid) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function connectDocker(dockerHost: string | undefined): Docker {
  if (!dockerHost) return new Docker();
  const url = new URL(dockerHost);
  if (url.protocol === "unix:") return new Docker({ socketPath: url.pathname });
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: "http" });
}

/** Closes a container's channel and removes it, and closes its door out. */
async function discard(live: LiveContainer, doors: EgressDoors | undefined): Promise<void> {
  live.channel.close();
  await live.container.remove({ force: true }).catch(() => undefined);
  if (live.egressToken !== undefined) await doors?.close(live.egressToken);
}

export function sessionContainerName(instance: string, conversationKey: string): string {
  return `${instance}-s-${createHash("sha256").update(conversationKey).digest("hex").slice(0, 24)}`;
}

export class DockerSandbox implements Sandbox, SessionHost, PlacementHost {
  readonly docker: Docker;
  readonly logger: Logger;
  readonly cellTimeoutMs: number;
  readonly outputBytes: number;
  readonly fileBytes: number;
  readonly image: string;
  private readonly options: DockerSandboxOptions;
  private readonly pool: WarmPool;
  private readonly sessions = new Map<string, DockerSession>();
  /** Session containers of an earlier process, not yet acquired: name → last use and starting process. */
  private readonly adopted = new Map<string, { lastUsed: number; owner: string | undefined }>();
  /** Session container name → the token of its door out, for containers that have one. */
  private readonly doorTokens = new Map<string, string>();
  /** One acquire or release at a time per session container. */
  private readonly locks = new KeyedQueue();
  /** Sessions being started, counted against `maxSessions` before they exist. */
  private starting = 0;
  private readonly channelBounds: ChannelBounds;
  private reaper: NodeJS.Timeout | undefined;

  private constructor(docker: Docker, options: DockerSandboxOptions, image: string) {
    this.docker = docker;
    this.options = options;
    this.image = image;
    this.logger = options.logger;
    this.cellTimeoutMs = options.cellTimeoutMs;
    this.outputBytes = options.outputBytes;
    this.fileBytes = options.limits.fileMb * 1024 * 1024;
    this.channelBounds = { maxLineBytes: maxReplyLineBytes(options.outputBytes), ...defaultDiagnosticsBounds };
    this.pool = new WarmPool({
      size: options.poolSize,
      start: () => this.startContainer(`${options.instance}-pool-${randomBytes(6).toString("hex")}`),
      discard: (live) => discard(live, this.doors),
      logger: options.logger,
    });
  }

  private get doors(): EgressDoors | undefined {
    return this.options.egress?.doors;
  }

  get instance(): string {
    return this.options.instance;
  }

  get modem(): Docker["modem"] {
    return this.docker.modem;
  }

  /** Checks Docker and the image, removes leftovers, adopts live sessions and starts the warm pool. */
  static async start(options: DockerSandboxOptions): Promise<DockerSandbox> {
    const docker = connectDocker(options.dockerHost);
    try {
      await dockerCall("Asking Docker whether it answers", docker.ping(), START_PING_MS);
    } catch (error) {
      throw new SandboxError("docker_unavailable", "Docker is not running or cannot be reached, so code cannot run. Start Docker (or set DOCKER_HOST) and try again.", { retryable: true, cause: error });
    }
    await checkRuntime(docker, options.limits.runtime);
    const image = options.image ?? currentImageTag();
    if (!(await imageExists(docker, image).catch((error) => { throw dockerFailure(error, "Checking the sandbox image"); }))) {
      if (options.image !== undefined) {
        throw new SandboxError("image_missing", `The sandbox image ${image} (THREADBOOK_SANDBOX_IMAGE) is missing. Pull or build it, or unset THREADBOOK_SANDBOX_IMAGE to use the one built from sandbox/.`);
      }
      if (!options.buildMissingImage) {
        throw new SandboxError("image_missing", `The sandbox image ${image} is missing. Build it with 'npm run sandbox:build' (or 'bash sandbox/build.sh').`);
      }
      options.onStatus?.(`Building the sandbox image ${image}; this takes several minutes, once.`);
      await buildImage(options.logger, (line) => options.logger.info({ build: line }, "sandbox image build"));
      if (!(await imageExists(docker, image))) throw new SandboxError("image_build_failed", `The sandbox image build finished but ${image} is not there.`);
    }
    const sandbox = new DockerSandbox(docker, options, image);
    await sandbox.sweep();
    sandbox.pool.fill();
    const interval = Math.max(1_000, Math.min(options.idleTtlMs / 2, 30_000));
    sandbox.reaper = setInterval(() => void sandbox.reapIdle(), interval);
    sandbox.reaper.unref();
    return sandbox;
  }

  acquire(conversationKey: string, options: AcquireOptions = {}): Promise<Session> {
    const name = sessionContainerName(this.options.instance, conversationKey);
    return this.locks.run(name, () => this.acquireUnlocked(conversationKey, name, options));
  }

  async release(conversationKey: string): Promise<void> {
    await this.releaseByName(sessionContainerName(this.options.instance, conversationKey));
  }

  detach(conversationKey: string): Promise<void> {
    const name = sessionContainerName(this.options.instance, conversationKey);
    return this.locks.run(name, async () => {
      const session = this.sessions.get(name);
      if (session === undefined || session.busy || session.held) return;
      // Its channel closes; the container and its runner go on, to be resumed by the next acquire anywhere.
      session.detach();
      this.sessions.delete(name);
    });
  }

  /**
   * Ends a session by its container's name; a cell running in it ends with a
   * `sandbox_lost` error. With `unless`, decided again inside the lock: a
   * session acquired since it was picked (held, busy, used) is left alone.
   */
  private releaseByName(name: string, unless?: () => boolean): Promise<boolean> {
    return this.locks.run(name, async () => {
      if (unless?.()) return false;
      this.sessions.get(name)?.detach();
      this.sessions.delete(name);
      this.adopted.delete(name);
      await this.removeContainer(name);
      return true;
    });
  }

  /** True while the session under `name` may not be removed as idle: held, busy, or used since `cutoff`. */
  private inUseSince(name: string, cutoff: number): boolean {
    const session = this.sessions.get(name);
    if (session !== undefined) return session.closed ? false : session.busy || session.held || session.lastUsed >= cutoff;
    const adopted = this.adopted.get(name);
    return adopted === undefined || adopted.lastUsed >= cutoff || ownedByLiveProcess(adopted.owner, this.options.sharedEngine);
  }

  async close(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    await this.pool.close();
    for (const session of this.sessions.values()) session.detach();
    this.sessions.clear();
    await this.doors?.closeAll();
  }

  /** Resolves while the engine answers within `withinMs`; else a `docker_unavailable` SandboxError. */
  async ping(withinMs = 5_000): Promise<void> {
    await dockerCall("Asking Docker whether it answers", this.docker.ping(), withinMs);
  }

  /** Session slots: those counted against `maxSessions` now (starting ones too), and the bound (Infinity when unbounded). */
  capacity(): { live: number; max: number } {
    return { live: this.liveSessions(), max: this.options.maxSessions ?? Infinity };
  }

  /**
   * Whether the conversation has a session on this engine: one this process
   * knows, or a running container under its name (left by an earlier process,
   * or started by a replica sharing the engine).
   */
  async holds(conversationKey: string): Promise<boolean> {
    const name = sessionContainerName(this.options.instance, conversationKey);
    const known = this.sessions.get(name);
    if ((known !== undefined && !known.closed) || this.adopted.has(name)) return true;
    try {
      const info = await dockerCall("Finding the conversation's session", this.docker.getContainer(name).inspect());
      return info.State.Running && info.Config.Image === this.image;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false;
      throw dockerFailure(error);
    }
  }

  /** Containers of this instance: running sessions, and how many are warm. */
  stats(): { sessions: number; warm: number; adopted: number } {
    return { sessions: this.sessions.size, warm: this.pool.warm, adopted: this.adopted.size };
  }

  /** The most memory one session's channel may hold of what its runner sends. */
  get maxChannelBytes(): number {
    return this.channelBounds.maxLineBytes;
  }

  async replace(session: DockerSession): Promise<LiveContainer> {
    await this.removeContainer(session.name);
    const live = await this.claimWithSkills(session.name, session.skillSource);
    this.grantDoor(session.name, session.egressGrant);
    return live;
  }

  /** Gives the door of the container under `name` the turn's grant (undefined: refuse everything). */
  private grantDoor(name: string, grant: AcquireOptions["egress"]): void {
    const token = this.doorTokens.get(name);
    if (token !== undefined) this.doors?.grant(token, grant);
  }

  /** A container to restart a session in, with its skills written in before it is used (no container restarts: a warm one stays warm). */
  private async claimWithSkills(name: string, skills: AcquireOptions["skills"]): Promise<LiveContainer> {
    const live = await this.claim(name);
    try {
      if (skills !== undefined) await writeSkills(live.container, this.docker.modem, await skills());
      return live;
    } catch (error) {
      await discard(live, this.doors);
      throw error;
    }
  }

  /** Waits until the warm pool is full; for start-up and benchmarks. Throws when containers cannot start. */
  async warmUp(): Promise<void> {
    if (!(await this.pool.warmUp())) {
      throw new SandboxError("sandbox_failed", `The warm pool holds ${this.pool.warm} of ${this.options.poolSize} sessions; starting more failed (see the log).`, { retryable: true });
    }
  }

  private async acquireUnlocked(conversationKey: string, name: string, options: AcquireOptions): Promise<Session> {
    const { skills, skillsVersion } = options;
    const known = this.sessions.get(name);
    if (known && !known.closed) {
      known.skillSource = skills;
      known.egressGrant = options.egress;
      this.grantDoor(name, options.egress);
      known.origin = "resumed";
      known.lastUsed = Date.now();
      known.hold();
      if (skills !== undefined && skillsVersion !== undefined && known.skillsVersion !== skillsVersion) {
        known.giveSkills(skills, { replace: true, version: skillsVersion });
      }
      return known;
    }
    this.sessions.delete(name);
    this.adopted.delete(name);
    await this.reserveSlot(name);
    try {
      const resumed = await this.resume(name);
      const session = new DockerSession({ conversationKey, name, origin: resumed ? "resumed" : "new", live: resumed ?? (await this.claim(name)), host: this });
      session.skillSource = skills;
      session.egressGrant = options.egress;
      this.grantDoor(name, options.egress);
      // Written while the turn goes on; a container left by an earlier process may hold another set.
      if (skills !== undefined) session.giveSkills(skills, { replace: resumed !== undefined, version: skillsVersion });
      this.sessions.set(name, session);
      session.hold();
      return session;
    } finally {
      this.starting -= 1;
    }
  }

  /** Session containers that count against `maxSessions`: this process's, those adopted, and those starting. */
  private liveSessions(): number {
    let adopted = 0;
    for (const { owner } of this.adopted.values()) if (!ownedByLiveProcess(owner, this.options.sharedEngine)) adopted += 1;
    return this.sessions.size + adopted + this.starting;
  }

  /**
   * Counts a session about to start (or resume) against `maxSessions`, first
   * removing the least recently used idle sessions while there is no room.
   */
  private async reserveSlot(name: string): Promise<void> {
    const limit = this.options.maxSessions ?? Infinity;
    for (;;) {
      if (this.liveSessions() < limit) {
        this.starting += 1;
        return;
      }
      const victim = this.leastRecentlyUsedIdle(name);
      if (victim === undefined) {
        throw new SandboxError("sandbox_busy", `Every one of the ${limit} Python sessions (THREADBOOK_MAX_SESSIONS) is in use. Try again in a minute.`, { retryable: true });
      }
      const removed = await this.releaseByName(victim.name, () => this.usedAfter(victim.name, victim.lastUsed));
      if (removed) this.logger.info({ name: victim.name, maxSessions: limit }, "removed the least recently used idle session to make room");
    }
  }

  /** Whether the session under `name` was held, busy or used after it was picked (when its last use was `lastUsed`). */
  private usedAfter(name: string, lastUsed: number): boolean {
    const session = this.sessions.get(name);
    if (session !== undefined) return !session.closed && (session.busy || session.held || session.lastUsed !== lastUsed);
    const adopted = this.adopted.get(name);
    return adopted === undefined || adopted.lastUsed !== lastUsed;
  }

  private leastRecentlyUsedIdle(except: string): { name: string; lastUsed: number } | undefined {
    const candidates: { name: string; lastUsed: number }[] = [];
    for (const session of this.sessions.values()) {
      if (session.name !== except && !session.busy && !session.held) candidates.push({ name: session.name, lastUsed: session.lastUsed });
    }
    for (const [name, { lastUsed, owner }] of this.adopted) {
      if (name !== except && !ownedByLiveProcess(owner, this.options.sharedEngine)) candidates.push({ name, lastUsed });
    }
    candidates.sort((a, b) => a.lastUsed - b.lastUsed);
    return candidates[0];
  }

  /** Reattaches to the conversation's container left by an earlier process, if it still runs. */
  private async resume(name: string): Promise<LiveContainer | undefined> {
    const container = this.docker.getContainer(name);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await dockerCall("Finding the conversation's session", container.inspect());
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw dockerFailure(error);
    }
    if (!info.State.Running || info.Config.Image !== this.image) {
      await this.removeContainer(name);
      return undefined;
    }
    try {
      const channel = await dockerCall("Finding the conversation's session", RunnerChannel.attach(container, this.logger.child({ session: name }), this.channelBounds));
      // A cell the earlier process left running holds the runner, the ping's answer too, until its own
      // limit: interrupt it first (the supervisor acts on SIGINT only while a cell runs; its late reply is dropped).
      await dockerCall("Finding the conversation's session", container.kill({ signal: "SIGINT" })).catch(() => undefined);
      const pong = await this.pingRunner(channel);
      const egressToken = info.Config.Labels?.[LABEL_EGRESS];
      if (egressToken !== undefined && this.doors !== undefined && (await this.doors.reopen(egressToken))) this.doorTokens.set(name, egressToken);
      return { container, channel, id: info.Id, pythonVersion: pong, egressToken };
    } catch (error) {
      this.logger.warn({ name, err: error }, "could not reattach to a session; starting a new one");
      await this.removeContainer(name);
      return undefined;
    }
  }

  /** A ready container under `name`: a warm one renamed, or a new one when the pool is empty. */
  private async claim(name: string): Promise<LiveContainer> {
    const warm = await this.pool.claim(name);
    // Someone waits on a new one: its kernel imports only numpy ahead, so a burst of new sessions
    // spends the CPUs on their cells, each importing what it uses, not on preloading.
    const live = warm ?? (await this.startContainer(name, { preload: false }));
    if (live.egressToken !== undefined) this.doorTokens.set(name, live.egressToken);
    return live;
  }

  private async startContainer(name: string, options: { preload?: boolean } = {}): Promise<LiveContainer> {
    const door = await this.doors?.open();
    const egress = this.options.egress;
    const closeDoor = async () => {
      if (door !== undefined) await this.doors?.close(door.token);
    };
    let container: Docker.Container;
    try {
      const spec = containerSpec({
        image: this.image, name, instance: this.options.instance, limits: this.options.limits, owner: PROCESS_OWNER, preload: options.preload,
        egress: door === undefined || egress === undefined ? undefined : { ...door, packagesMb: egress.packagesMb, pipIndexUrl: egress.pipIndexUrl },
      });
      container = await dockerCall("Starting a Python session", this.docker.createContainer(spec));
    } catch (error) {
      await closeDoor();
      throw dockerFailure(error);
    }
    try {
      const channel = await dockerCall("Starting a Python session", RunnerChannel.attach(container, this.logger.child({ container: name }), this.channelBounds));
      await dockerCall("Starting a Python session", container.start());
      const pythonVersion = await this.pingRunner(channel);
      return { container, channel, id: container.id, pythonVersion, egressToken: door?.token };
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      await closeDoor();
      throw dockerFailure(error);
    }
  }

  private async pingRunner(channel: RunnerChannel): Promise<string> {
    const reply = await channel.request({ op: "ping" }, pingReply, READY_TIMEOUT_MS);
    return reply.python;
  }

  /**
   * At start: removes warm containers and dead sessions left by an earlier
   * process, and adopts live sessions. A container of another process still
   * running on this host (a `threadbook ask` beside the bot, or a second bot
   * starting at the same moment) is left alone, whatever its state: it may be
   * one that process has just created and not yet started.
   */
  private async sweep(): Promise<void> {
    const containers = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_INSTANCE}=${this.options.instance}`] } })
      .catch((error) => { throw dockerFailure(error, "Listing the sandbox's containers"); });
    const sessionPrefix = `/${this.options.instance}-s-`;
    for (const info of containers) {
      const name = info.Names[0] ?? "";
      const live = info.State === "running" && info.Image === this.image && name.startsWith(sessionPrefix);
      if (live) {
        this.adopted.set(name.slice(1), { lastUsed: Date.now(), owner: info.Labels[LABEL_OWNER] });
        // Known before it is resumed, so a session reaped unresumed takes its door's directory with it.
        const egressToken = info.Labels[LABEL_EGRESS];
        if (egressToken !== undefined && this.doors !== undefined) this.doorTokens.set(name.slice(1), egressToken);
      } else if (ownedByLiveProcess(info.Labels[LABEL_OWNER], this.options.sharedEngine)) {
        continue;
      } else {
        this.logger.info({ name, state: info.State }, "removing a leftover container");
        await this.docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
        const egressToken = info.Labels[LABEL_EGRESS];
        if (egressToken !== undefined) await this.doors?.close(egressToken);
      }
    }
  }

  private async reapIdle(): Promise<void> {
    const cutoff = Date.now() - this.options.idleTtlMs;
    const idle = [...this.sessions.values()].filter((session) => !session.busy && !session.held && session.lastUsed < cutoff).map((session) => session.name);
    // Sessions of an earlier process; one that another running process started is that process's to reap.
    for (const [name, { lastUsed, owner }] of this.adopted) {
      if (lastUsed < cutoff && !ownedByLiveProcess(owner, this.options.sharedEngine)) idle.push(name);
    }
    for (const name of idle) {
      // Picked outside the lock: decided again inside it, so a session acquired meanwhile stays.
      const reaped = await this.releaseByName(name, () => this.inUseSince(name, cutoff)).catch((error: unknown) => {
        this.logger.warn({ err: error }, "reaping failed");
        return false;
      });
      if (reaped) this.logger.info({ name }, "reaped an idle session");
    }
  }

  private async removeContainer(name: string): Promise<void> {
    const egressToken = this.doorTokens.get(name);
    this.doorTokens.delete(name);
    if (egressToken !== undefined) await this.doors?.close(egressToken);
    try {
      await dockerCall("Removing a session", this.docker.getContainer(name).remove({ force: true }));
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) this.logger.warn({ name, err: error }, "could not remove a container");
    }
  }
}
