/** The in-container runner (sandbox/runner.py) through a real Docker sandbox: capture, figures, tracebacks. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Busy loops on the host, one per CPU, so the container's threads are starved and scheduled late. */
function startCpuHogs(count: number): ChildProcess[] {
  return Array.from({ length: count }, () => spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
}

describe("runner", () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;

  before(async () => {
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 20_000 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("output of subprocesses is never lost between cells, even with the CPUs busy", async () => {
    const session = await sandbox.acquire("capture-race");
    const hogs = startCpuHogs(2);
    try {
      for (let cell = 0; cell < 150; cell += 1) {
        const code = [
          "import os, subprocess, sys",
          `print('python-${cell}')`,
          `print('python-err-${cell}', file=sys.stderr)`,
          `subprocess.run(['echo', 'subprocess-${cell}'])`,
          `os.system('echo system-${cell}; echo system-err-${cell} >&2')`,
          // A print lands after what the subprocesses wrote before it.
          `print('python-after-${cell}')`,
          // Written by the runner's own process at descriptor level, as C code would, right before the cell ends.
          `os.write(1, b'descriptor-${cell}\\n')`,
          "None",
        ].join("\n");
        const result = await session.run(code);
        assert.equal(result.error, null, `cell ${cell} failed`);
        assert.equal(result.stdout, `python-${cell}\nsubprocess-${cell}\nsystem-${cell}\npython-after-${cell}\ndescriptor-${cell}\n`, `cell ${cell}`);
        assert.equal(result.stderr, `python-err-${cell}\nsystem-err-${cell}\n`, `cell ${cell}`);
      }
    } finally {
      for (const hog of hogs) hog.kill("SIGKILL");
    }
  });
});
