/**
 * Two processes on one Docker engine under the same instance name, as a bot
 * and a `threadbook ask` beside it: neither's start-up sweep removes a
 * container the other still owns, whatever its state, and a container whose
 * owner has gone is removed by the next sweep.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { LABEL_INSTANCE, LABEL_OWNER } from "../src/sandbox/docker/container-spec.ts";
import { currentImageTag } from "../src/sandbox/docker/image.ts";
import { instanceContainers, removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const childScript = fileURLToPath(new URL("./support/sweep-child.ts", import.meta.url));

interface Child {
  process: ChildProcessWithoutNullStreams;
  /** The next line the child printed. */
  line(): Promise<string>;
}

function startChild(instance: string): Child {
  const child = spawn(process.execPath, [childScript, instance], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    process: child,
    async line() {
      const next = await lines.next();
      if (next.done) throw new Error(`the child ${child.pid} ended without a line (exit ${child.exitCode}):\n${stderr}`);
      return next.value;
    },
  };
}

function running(child: Child): boolean {
  return child.process.exitCode === null && child.process.signalCode === null;
}

/** Ends the child's stdin: it closes its sandbox and exits. */
async function stopChild(child: Child): Promise<void> {
  if (!running(child)) return;
  const exited = once(child.process, "exit");
  child.process.stdin.end();
  await exited;
}

async function killChild(child: Child): Promise<void> {
  if (!running(child)) return;
  const exited = once(child.process, "exit");
  child.process.kill("SIGKILL");
  await exited;
}

// A child whose container another's sweep removed waits out its runner's 90 s start-up limit: the time limit turns that into a failure.
test("two processes starting a warm pool of one instance at the same moment keep all their containers", { timeout: 150_000 }, async (t) => {
  const instance = testInstance();
  const children = [startChild(instance), startChild(instance)];
  // In teardown, so it runs after a time-out too: a child still running is killed, and every container removed.
  t.after(async () => {
    await Promise.all(children.map(killChild));
    await removeInstance(instance);
  });
  // Both loaded first, then told to start together, so their sweeps and pool fills overlap.
  for (const child of children) assert.equal(await child.line(), "ready");
  for (const child of children) child.process.stdin.write("go\n");
  const reports = await Promise.all(children.map(async (child) => JSON.parse(await child.line()) as { owner: string; pool: string[] }));

  const runningNames = new Set((await instanceContainers(instance)).filter((info) => info.State === "running").map((info) => (info.Names[0] ?? "").slice(1)));
  for (const [index, report] of reports.entries()) {
    assert.equal(report.owner, `${hostname()}:${children[index]?.process.pid}`);
    assert.equal(report.pool.length, 2, `child ${index + 1} owns ${report.pool.join(", ")}`);
    for (const name of report.pool) assert.ok(runningNames.has(name), `${name} of child ${index + 1} is running`);
  }
  // A third sweep, of this process, while both still run: it spares them too.
  const third = await startTestSandbox({ instance, poolSize: 0 });
  await third.close();
  const afterSweep = new Set((await instanceContainers(instance)).filter((info) => info.State === "running").map((info) => (info.Names[0] ?? "").slice(1)));
  for (const name of reports.flatMap((report) => report.pool)) assert.ok(afterSweep.has(name), `${name} survived a later sweep`);
  await Promise.all(children.map(stopChild));
});

test("a created, never started container of a live process survives a sweep, and is removed once that process is gone", async () => {
  const instance = testInstance();
  const docker = new Docker();
  const owner = spawn("sleep", ["60"]);
  const name = `${instance}-pool-created`;
  try {
    const created = await docker.createContainer({
      Image: currentImageTag(),
      name,
      Cmd: ["sleep", "60"],
      Labels: { [LABEL_INSTANCE]: instance, [LABEL_OWNER]: `${hostname()}:${owner.pid}` },
    });
    assert.equal((await created.inspect()).State.Status, "created");

    const first = await startTestSandbox({ instance, poolSize: 0 });
    await first.close();
    const kept = (await instanceContainers(instance)).find((info) => info.Names[0] === `/${name}`);
    assert.equal(kept?.State, "created", "kept, unstarted, while its process runs");

    owner.kill();
    await once(owner, "exit");
    const second = await startTestSandbox({ instance, poolSize: 0 });
    await second.close();
    assert.deepEqual((await instanceContainers(instance)).map((info) => info.Names[0]), [], "removed once its process is gone");
  } finally {
    owner.kill();
    await removeInstance(instance);
  }
});

test("on an engine shared with other machines' replicas, a container another host's process labelled is left alone by the sweep; on one machine's own engine it is removed", async () => {
  const instance = testInstance();
  const docker = new Docker();
  const name = `${instance}-pool-elsewhere`;
  try {
    await docker.createContainer({
      Image: currentImageTag(),
      name,
      Cmd: ["sleep", "60"],
      Labels: { [LABEL_INSTANCE]: instance, [LABEL_OWNER]: "another-machine:4242" },
    });
    const shared = await startTestSandbox({ instance, poolSize: 0, sharedEngine: true });
    await shared.close();
    assert.deepEqual((await instanceContainers(instance)).map((info) => info.Names[0]), [`/${name}`], "its process cannot be checked from here: taken to be live");

    const alone = await startTestSandbox({ instance, poolSize: 0 });
    await alone.close();
    assert.deepEqual((await instanceContainers(instance)).map((info) => info.Names[0]), [], "an engine of its own: a leftover");
  } finally {
    await removeInstance(instance);
  }
});
