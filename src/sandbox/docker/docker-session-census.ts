/**
 * The Docker sandbox's census for operators: its session containers found
 * by label and name (so those another process left running are seen too),
 * each with what Docker says it uses now. Every call to Docker has a deadline.
 */
import type Docker from "dockerode";
import { SandboxError } from "../../errors.ts";
import { timedOut, within } from "../../deadline.ts";
import type { LiveSession, SessionCensus } from "../session-census.ts";
import { LABEL_INSTANCE } from "./container-spec.ts";

/** A census call that takes longer is given up: an operator's command, or a readiness probe, is waiting. */
const dockerDeadlineMs = 5_000;

export interface CensusSource {
  readonly docker: Docker;
  readonly instance: string;
  /** This process's sessions, those adopted from an earlier one, and the warm pool. */
  stats(): { sessions: number; warm: number; adopted: number };
}

export class DockerSessionCensus implements SessionCensus {
  readonly #source: CensusSource;
  readonly #host: string;

  constructor(source: CensusSource, dockerHost: string | undefined) {
    this.#source = source;
    this.#host = dockerHost ?? "local";
  }

  async liveSessions(): Promise<LiveSession[]> {
    const { docker, instance } = this.#source;
    const listed = await bounded(docker.listContainers({ filters: { label: [`${LABEL_INSTANCE}=${instance}`], status: ["running"] } }), "list the session containers");
    const prefix = `/${instance}-s-`;
    const sessions = listed.filter((info) => (info.Names[0] ?? "").startsWith(prefix));
    return Promise.all(sessions.map(async (info): Promise<LiveSession> => {
      const memory = await this.#memory(docker.getContainer(info.Id));
      return { id: info.Id, host: this.#host, ...memory };
    }));
  }

  counts(): { live: number; warm: number } {
    const stats = this.#source.stats();
    return { live: stats.sessions + stats.adopted, warm: stats.warm };
  }

  async ping(): Promise<void> {
    await bounded(this.#source.docker.ping(), "answer");
  }

  /** What the container uses, page cache left out (as `docker stats` shows it); nulls when Docker does not say in time. */
  async #memory(container: Docker.Container): Promise<Pick<LiveSession, "memoryBytes" | "memoryLimitBytes">> {
    try {
      const stats = await bounded(container.stats({ stream: false, "one-shot": true } as { stream: false }), "read a session's memory");
      const memory = stats.memory_stats as { usage?: number; limit?: number; stats?: Record<string, number> } | undefined;
      if (memory?.usage === undefined) return { memoryBytes: null, memoryLimitBytes: memory?.limit ?? null };
      const cache = memory.stats?.["inactive_file"] ?? memory.stats?.["total_inactive_file"] ?? memory.stats?.["cache"] ?? 0;
      return { memoryBytes: Math.max(0, memory.usage - cache), memoryLimitBytes: memory.limit ?? null };
    } catch {
      return { memoryBytes: null, memoryLimitBytes: null };
    }
  }
}

async function bounded<T>(call: Promise<T>, what: string): Promise<T> {
  let result: T | typeof timedOut;
  try {
    result = await within(call, dockerDeadlineMs);
  } catch (error) {
    throw new SandboxError("docker_unavailable", `Docker did not ${what}: it is not running or cannot be reached.`, { retryable: true, cause: error });
  }
  if (result === timedOut) throw new SandboxError("docker_unavailable", `Docker did not ${what} within ${dockerDeadlineMs / 1000} s.`, { retryable: true });
  return result;
}
