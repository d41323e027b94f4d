/** The sandbox under gVisor (runsc), one setting away: THREADBOOK_SANDBOX_RUNTIME=runsc. */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const runtimes = Object.keys(((await new Docker().info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
const available = runtimes.includes("runsc");
// CI registers runsc with Docker (.ci/run); there this suite must run, never skip.
const skip = !available && !process.env.CI ? "runsc is not registered with Docker here" : false;

describe("docker sandbox on gVisor", { skip }, () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;

  before(async () => {
    assert.ok(available, `Docker lists no runsc runtime (it has: ${runtimes.join(", ")})`);
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 5_000, limits: { memoryMb: 512, cpus: 1, pids: 64, diskMb: 64, fileMb: 16, runtime: "runsc" } });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("cells run under gVisor's kernel with state, files and figures", async () => {
    const session = await sandbox.acquire("gvisor");
    const info = await new Docker().getContainer((session as unknown as { container: Docker.Container }).container.id).inspect();
    assert.equal(info.HostConfig.Runtime, "runsc");
    // gVisor's own kernel reports itself as Linux 4.4.0 whatever the host runs.
    const kernel = await session.run("import platform\nplatform.release()");
    assert.equal(kernel.value, "'4.4.0'");
    await session.putFiles([{ name: "numbers.csv", data: Buffer.from("n\n1\n2\n3\n") }]);
    const result = await session.run("import pandas as pd, matplotlib.pyplot as plt\nframe = pd.read_csv('numbers.csv')\nframe.plot()\nframe['n'].sum()");
    assert.equal(result.value, "6");
    assert.equal(result.figures.length, 1);
    const [figure] = await session.getFiles([result.figures[0]!.name]);
    assert.equal(figure?.data.subarray(1, 4).toString("latin1"), "PNG");
    const looped = await session.run("while True:\n    pass", { timeoutMs: 1_000 });
    assert.equal(looped.timedOut, true);
    assert.equal((await session.run("frame.shape")).value, "(3, 1)");
  });

  test("a fork bomb stays inside gVisor and the session keeps working", async () => {
    const session = await sandbox.acquire("gvisor-forks");
    const other = await sandbox.acquire("gvisor-bystander");
    await other.run("kept = 'yes'");
    const bomb = await session.run("import os, time\nchildren = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n        children += 1\nexcept OSError as error:\n    print('stopped after', children, type(error).__name__)", { timeoutMs: 20_000 });
    // Held by the process limit, or by the memory limit with the session restarted.
    assert.ok(/stopped after \d+ BlockingIOError/.test(bomb.stdout) || (bomb.stateLost && bomb.error?.name === "SessionDied"), JSON.stringify(bomb.error));
    assert.equal((await session.run("'alive'")).value, "'alive'");
    assert.equal((await other.run("kept")).value, "'yes'");
  });
});
