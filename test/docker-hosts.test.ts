/**
 * Sessions placed over two engines (THREADBOOK_DOCKER_HOSTS): the machine's
 * own and one the test starts itself (never stopping the machine's). New
 * sessions spread by free slots; a conversation whose engine stops gets a new
 * session on the other, which the core sees as a lost session; the stopped
 * engine is used again once the health check finds it answering.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type Docker from "dockerode";
import { sessionContinuity } from "../src/core/session-continuity.ts";
import { silentLogger } from "../src/log.ts";
import { LABEL_INSTANCE } from "../src/sandbox/docker/container-spec.ts";
import { DockerSandbox, sessionContainerName } from "../src/sandbox/docker/docker-sandbox.ts";
import { DockerSessionCensus } from "../src/sandbox/docker/docker-session-census.ts";
import { currentImageTag } from "../src/sandbox/docker/image.ts";
import { HostPlacement } from "../src/sandbox/placement/host-placement.ts";
import { PlacementCensus } from "../src/sandbox/placement/placement-census.ts";
import { startSecondEngine, type SecondEngine } from "./support/second-engine.ts";
import { instanceContainers, removeInstance, testInstance, testSandboxOptions } from "./support/sandbox.ts";
import { until } from "./support/until.ts";

const instance = testInstance();
const localHost = process.env["DOCKER_HOST"];
let engine: SecondEngine;
let placement: HostPlacement;
let secondHost: string;

/** The names of the instance's session containers on an engine, running or not. */
function sessionNames(listed: Docker.ContainerInfo[]): string[] {
  return listed.map((info) => (info.Names[0] ?? "").slice(1)).filter((name) => name.startsWith(`${instance}-s-`)).sort();
}

const onLocal = async () => sessionNames(await instanceContainers(instance));
const onSecond = async () => sessionNames(await engine.docker.listContainers({ all: true, filters: { label: [`${LABEL_INSTANCE}=${instance}`] } }));

function hostState(name: string): boolean | undefined {
  return placement.hosts().find((host) => host.name === name)?.up;
}

/** Waits, checking every 100 ms, until `condition` resolves true; fails after `timeoutMs` naming `what`. */
async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  engine = await startSecondEngine({ image: currentImageTag() });
  secondHost = engine.host;
  placement = await HostPlacement.start({
    logger: silentLogger,
    healthIntervalMs: 200,
    hosts: [localHost, secondHost].map((dockerHost) => ({
      name: dockerHost ?? "local",
      start: async () => {
        const sandbox = await DockerSandbox.start(testSandboxOptions({ instance, dockerHost, poolSize: 0, maxSessions: 2 }));
        return { sandbox, census: new DockerSessionCensus(sandbox, dockerHost) };
      },
    })),
  });
});

after(async () => {
  await placement?.close();
  await removeInstance(instance);
  await engine?.remove();
});

test("two engines: sessions spread by free slots, a stopped engine's conversation moves on as a lost session, the engine rejoins when it answers", async () => {
  // Four conversations, two slots on each engine: two and two.
  const keys = ["hosts-a", "hosts-b", "hosts-c", "hosts-d"];
  const first = new Map<string, { id: string }>();
  for (const key of keys) {
    const session = await placement.acquire(key);
    assert.equal(session.origin, "new");
    assert.equal((await session.run(`where = ${JSON.stringify(key)}\nwhere`)).value, `'${key}'`);
    first.set(key, { id: session.id });
    session.idle();
  }
  const [local, second] = [await onLocal(), await onSecond()];
  assert.equal(local.length, 2, `on the machine's engine: ${local.join(", ")}`);
  assert.equal(second.length, 2, `on the second engine: ${second.join(", ")}`);
  const census = new PlacementCensus(() => placement.censuses());
  assert.deepEqual(census.counts(), { live: 4, warm: 0 });
  await census.ping();

  // The same conversation goes back to its host, its variables intact.
  const moving = keys.find((key) => placement.hostOf(key) === secondHost);
  assert.ok(moving !== undefined);
  const again = await placement.acquire(moving);
  assert.equal(again.origin, "resumed");
  assert.equal((await again.run("where")).value, `'${moving}'`);
  again.idle();

  // The second engine stops: the health check marks it down, readiness still holds by the other.
  await engine.stop();
  await until(() => hostState(secondHost) === false, "the stopped engine is marked down");
  await census.ping();
  const moved = await placement.acquire(moving);
  assert.equal(moved.origin, "new");
  assert.notEqual(moved.id, first.get(moving)?.id);
  assert.equal(placement.hostOf(moving), localHost ?? "local");
  // The core, knowing the conversation's earlier session id, tells the model its variables are gone.
  const record = { sessionId: first.get(moving)?.id ?? null } as Parameters<typeof sessionContinuity>[0];
  assert.equal(sessionContinuity(record, true, moved), "lost");
  const gone = await moved.run("where");
  assert.equal(gone.error?.name, "NameError");
  moved.idle();
  // Two slots on the machine's engine: its least recently used idle session made room.
  assert.equal((await onLocal()).length, 2);
  assert.ok((await onLocal()).includes(sessionContainerName(instance, moving)));

  // The engine starts again: the health check brings it back, and ends the session the moved conversation left there.
  await engine.start();
  await until(() => hostState(secondHost) === true, "the restarted engine is marked up");
  await eventually(async () => !(await onSecond()).includes(sessionContainerName(instance, moving)), "the moved conversation's old container is removed");
  const fresh = await placement.acquire("hosts-e");
  assert.equal(placement.hostOf("hosts-e"), secondHost, "the engine with free slots takes the new conversation");
  assert.equal((await fresh.run("1 + 1")).value, "2");
  fresh.idle();
  assert.ok((await onSecond()).includes(sessionContainerName(instance, "hosts-e")));
});
