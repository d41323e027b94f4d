/**
 * The placement's decisions over hosts held in memory (the two-engine test,
 * docker-hosts.test.ts, runs them on real engines): most room first, a host
 * down at start joins when its health check answers, no host at all is a
 * plain, retryable error. A fake host throws on any call the placement has no
 * business making.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SandboxError } from "../src/errors.ts";
import { silentLogger } from "../src/log.ts";
import { HostPlacement } from "../src/sandbox/placement/host-placement.ts";
import { byMostRoom } from "../src/sandbox/placement/most-room.ts";
import type { HostEntry, PlacementHost, StartedHost } from "../src/sandbox/placement/placement-host.ts";
import type { Session } from "../src/sandbox/sandbox.ts";
import type { SessionCensus } from "../src/sandbox/session-census.ts";
import { until } from "./support/until.ts";

const unreachable = () => new SandboxError("docker_unavailable", "Docker stopped answering, so code cannot run.", { retryable: true });

class FakeHost implements PlacementHost {
  readonly sessions = new Map<string, Session>();
  answering = true;
  readonly name: string;
  readonly max: number;
  constructor(name: string, max: number) {
    this.name = name;
    this.max = max;
  }

  async acquire(conversationKey: string): Promise<Session> {
    if (!this.answering) throw unreachable();
    const known = this.sessions.get(conversationKey);
    if (known !== undefined) return { ...known, origin: "resumed" };
    if (this.sessions.size >= this.max) throw new SandboxError("sandbox_busy", "full", { retryable: true });
    const session = { conversationKey, id: `${this.name}/${conversationKey}`, origin: "new", pythonVersion: "3", idle: () => undefined } as unknown as Session;
    this.sessions.set(conversationKey, session);
    return session;
  }
  async release(conversationKey: string): Promise<void> {
    this.sessions.delete(conversationKey);
  }
  async detach(): Promise<void> {}
  async close(): Promise<void> {}
  async ping(): Promise<void> {
    if (!this.answering) throw unreachable();
  }
  capacity(): { live: number; max: number } {
    return { live: this.sessions.size, max: this.max };
  }
  async holds(conversationKey: string): Promise<boolean> {
    return this.sessions.has(conversationKey);
  }
}

const census = { liveSessions: () => assert.fail("no census call expected"), counts: () => ({ live: 0, warm: 0 }), ping: async () => undefined } as unknown as SessionCensus;

/** A host whose start fails while `startable` says so. */
function entry(host: FakeHost, startable: () => boolean = () => true): HostEntry {
  return { name: host.name, start: async (): Promise<StartedHost> => (startable() ? { sandbox: host, census } : Promise.reject(unreachable())) };
}

test("most room first; between equals, fewest sessions; unbounded hosts by their sessions", () => {
  const loads = { a: { live: 3, max: 4 }, b: { live: 1, max: 4 }, c: { live: 0, max: 3 }, d: { live: 5, max: Infinity }, e: { live: 2, max: Infinity } };
  const order = byMostRoom(Object.keys(loads) as (keyof typeof loads)[], (name) => loads[name]);
  // b and c have three free slots each: c, with no session yet, first.
  assert.deepEqual(order, ["e", "d", "c", "b", "a"]);
});

test("a host down at start joins at the health check that finds it answering; a conversation stays on its host", async () => {
  const first = new FakeHost("first", 2);
  const second = new FakeHost("second", 2);
  let secondUp = false;
  const placement = await HostPlacement.start({ logger: silentLogger, healthIntervalMs: 60_000, hosts: [entry(first), entry(second, () => secondUp)] });
  try {
    assert.deepEqual(placement.hosts().map((host) => host.up), [true, false]);
    await placement.acquire("one");
    assert.equal(placement.hostOf("one"), "first");
    secondUp = true;
    await placement.checkHealth();
    // The start runs beside the check, not within it.
    await until(() => placement.hosts()[1]?.up === true, "the second host joins");
    await placement.acquire("two");
    assert.equal(placement.hostOf("two"), "second", "the host with more room");
    assert.equal((await placement.acquire("one")).origin, "resumed");
    assert.equal(placement.hostOf("one"), "first");
  } finally {
    await placement.close();
  }
});

test("every host silent: a plain, retryable error; at start, the first host's own error", async () => {
  const first = new FakeHost("first", 2);
  const second = new FakeHost("second", 2);
  await assert.rejects(HostPlacement.start({ logger: silentLogger, healthIntervalMs: 60_000, hosts: [entry(first, () => false), entry(second, () => false)] }), (error: unknown) => error instanceof SandboxError && error.code === "docker_unavailable");
  const placement = await HostPlacement.start({ logger: silentLogger, healthIntervalMs: 60_000, hosts: [entry(first), entry(second)] });
  try {
    first.answering = false;
    second.answering = false;
    await assert.rejects(placement.acquire("any"), (error: unknown) => error instanceof SandboxError && error.code === "docker_unavailable" && error.retryable && /No Docker host answers/.test(error.message));
    assert.deepEqual(placement.hosts().map((host) => host.up), [false, false]);
  } finally {
    await placement.close();
  }
});
