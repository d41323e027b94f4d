/**
 * The sandbox's trust boundary against a real Docker engine: nothing a cell
 * writes, on any descriptor it can reach, grows this process's memory past a
 * fixed bound, stalls other conversations, or is believed when it breaks the
 * protocol.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SandboxError } from "../src/errors.ts";
import { assertPlainFileName, MAX_NAME_BYTES, sanitizeFileName } from "../src/file-names.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { captureLogger } from "./support/capture-logger.ts";
import { FLOOD_EVERY_DESCRIPTOR } from "./support/flood-cell.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

/** Python that finds the kernel's request id and protocol descriptor from inside a cell, as hostile code could. */
const findProtocol = `
import sys, json, os
frame = sys._getframe()
while frame is not None and "request_id" not in frame.f_locals:
    frame = frame.f_back
request_id = frame.f_locals["request_id"]
protocol_fd = frame.f_locals["self"].proto_out.fileno()
def forge(message):
    os.write(protocol_fd, (json.dumps(message) + "\\n").encode())
`;

const megabyte = 1024 * 1024;

describe("sandbox trust boundary", () => {
  const instance = testInstance();
  const log = captureLogger();
  let sandbox: DockerSandbox;

  before(async () => {
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 60_000, poolSize: 2, logger: log.logger });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("a cell flooding every descriptor it holds with about 1 GB neither grows this process nor stalls another conversation", async () => {
    const flooding = await sandbox.acquire("flood-all");
    const bystander = await sandbox.acquire("flood-bystander");
    await flooding.run("x = 1");
    await bystander.run("y = 2");
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
    const flood = flooding.run(FLOOD_EVERY_DESCRIPTOR);
    let slowest = 0;
    let answered = 0;
    let flooded = false;
    void flood.finally(() => { flooded = true; });
    while (!flooded) {
      const started = performance.now();
      const result = await bystander.run("y + 1");
      slowest = Math.max(slowest, performance.now() - started);
      assert.equal(result.value, "3");
      answered += 1;
    }
    const result = await flood;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(result.stateLost, true, "the flooding kernel was restarted");
    assert.match(result.error?.message ?? "", /restarted/);
    assert.ok(peak - before < 100 * megabyte, `resident memory grew by ${Math.round((peak - before) / megabyte)} MB`);
    assert.ok(answered > 0, "the other conversation ran cells during the flood");
    // A bound that holds on a loaded machine; a stalled event loop takes many seconds.
    assert.ok(slowest < 5_000, `another conversation's cell took ${Math.round(slowest)} ms during the flood`);
    assert.equal((await flooding.run("x = 5\nx * 2")).value, "10", "the flooding conversation's next cell runs");
    assert.ok(log.lines().some((line) => line.msg === "the kernel stopped during a cell; the supervisor started a new one"), "one log line says why");
  });

  test("a forged listing through symlinks brings nothing from outside the working directory back, and memory stays bounded", async () => {
    const session = await sandbox.acquire("forged-listing");
    await session.run("kept = 1");
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
    // A symlink to /usr, a directory holding one, and a forged reply naming paths through them, written to the kernel's protocol.
    const forged = await session.run(`${findProtocol}
os.symlink('/usr', 'lnk')
os.makedirs('d', exist_ok=True)
os.symlink('/usr/lib', 'd/inner')
open('mine.txt', 'w').write('mine')
forge({"id": request_id, "ok": True, "stdout": "", "stderr": "", "stdout_bytes": 0, "stderr_bytes": 0, "value": None, "error": None,
       "figures": [{"name": "lnk/lib", "bytes": 1}], "files": [{"name": "lnk/lib", "bytes": 1}, {"name": "d/inner", "bytes": 1}], "files_omitted": 0, "duration_ms": 1, "timed_out": False})
`);
    const listed = forged.files.map((file) => file.name);
    assert.ok(listed.every((name) => !name.startsWith("lnk") && !name.startsWith("d/")), `listed: ${listed.join(", ")}`);
    assert.deepEqual(forged.figures, []);
    // Asked by name all the same, through the symlinked component: nothing comes back, not even the directory.
    const back = await session.getFiles(["lnk/lib/os.py", "lnk/lib", "lnk", "d/inner/os.py", "d/inner", "mine.txt"], { maxBytes: 64 * megabyte, totalBytes: 64 * megabyte });
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.deepEqual(back.map((file) => file.name), ["mine.txt"]);
    assert.ok(peak - before < 100 * megabyte, `resident memory grew by ${Math.round((peak - before) / megabyte)} MB`);
    assert.equal((await session.run("open('mine.txt').read()")).value, "'mine'", "the conversation goes on");
  });

  test("files out are cut at the total asked for", async () => {
    const session = await sandbox.acquire("files-total");
    await session.run("for i in range(4):\n    open('part-%d.bin' % i, 'wb').write(b'x' * (3 * 1024 * 1024))");
    const names = ["part-0.bin", "part-1.bin", "part-2.bin", "part-3.bin"];
    const back = await session.getFiles(names, { maxBytes: 4 * megabyte, totalBytes: 7 * megabyte });
    assert.deepEqual(back.map((file) => file.name), ["part-0.bin", "part-1.bin"]);
    assert.ok(back.every((file) => file.data.length === 3 * megabyte));
    assert.equal((await session.run("1 + 1")).value, "2");
  });

  test("a background process stopping every process it may signal holds neither the files nor the session", async () => {
    const session = await sandbox.acquire("sigstop");
    await session.run(`import subprocess
stopper = subprocess.Popen(["python3", "-c", "import os, signal, time\\ntime.sleep(0.5)\\nwhile True:\\n    os.kill(-1, signal.SIGSTOP)\\n    time.sleep(0.01)"], start_new_session=True)`);
    const made = await session.run("import time\ntime.sleep(2)\nopen('made.txt', 'w').write('made')", { timeoutMs: 1_000 });
    // The kernel itself was stopped: the cell ends at its limit, the kernel is restarted (and the stopper with it).
    assert.equal(made.stateLost, true);
    // The transfers run as root: nothing of the sandbox user can stop them.
    const files = await session.listFiles();
    await session.getFiles(files.map((file) => file.name));
    const next = await session.run("open('after.txt', 'w').write('after')\n'fine'");
    assert.equal(next.value, "'fine'");
    assert.equal(next.stateLost, false);
    const back = await session.getFiles(["after.txt"]);
    assert.equal(back[0]?.data.toString(), "after");
  });

  test("ready lines flooded from a background thread never reach the host, and others answer meanwhile", async () => {
    const session = await sandbox.acquire("ready-flood");
    const bystander = await sandbox.acquire("ready-bystander");
    await bystander.run("y = 2");
    const flooding = await session.run(`import os, threading, json
line = (json.dumps({"id": 0, "op": "ready", "python": "3.11.2"}) + "\\n").encode()
def flood():
    for _ in range(200000):
        for name in os.listdir('/proc/self/fd'):
            try:
                os.write(int(name), line)
            except OSError:
                pass
threading.Thread(target=flood, daemon=True).start()
import time
time.sleep(1)`);
    assert.ok(flooding.stateLost || flooding.error === null);
    for (let i = 0; i < 5; i += 1) assert.equal((await bystander.run("y + 1")).value, "3");
    const next = await session.run("'after'");
    assert.equal(next.value, "'after'");
    assert.ok(!log.lines().some((line) => String(line.reason ?? "").includes("second ready line")), "the host saw one ready line");
  });

  test("a kernel's diagnostics reach the log up to a byte cap; a flood of them costs the session nothing", async () => {
    const session = await sandbox.acquire("diagnostics");
    await session.run("kept = 1");
    const result = await session.run(`
import sys
for _ in range(4096):
    sys.__stderr__.write("d" * 1023 + "\\n")
sys.__stderr__.flush()
`);
    assert.equal(result.stateLost, false);
    assert.equal((await session.run("kept")).value, "1");
  });

  test("forty figures in one cell: ten come back, the rest are named", async () => {
    const session = await sandbox.acquire("figures");
    const result = await session.run("import matplotlib.pyplot as plt\nfor i in range(40):\n    plt.figure(); plt.plot([i, i + 1])");
    assert.equal(result.figures.length, 10);
    assert.equal(result.figuresOmitted.length, 30);
    assert.equal(result.stateLost, false);
    assert.equal((await session.run("len(plt.get_fignums())")).value, "0");
  });

  test("file names: a 300-byte UTF-8 name and a bidi override become names every file system takes", async () => {
    const session = await sandbox.acquire("names");
    const long = `${"報".repeat(100)}.csv`;
    assert.equal(Buffer.byteLength(long), 304);
    const bidi = "evil\u202Etxt.exe";
    for (const raw of [long, bidi]) assert.throws(() => assertPlainFileName(raw), (error: unknown) => error instanceof SandboxError && error.code === "file_rejected");
    const names = [sanitizeFileName(long), sanitizeFileName(bidi)];
    assert.ok(Buffer.byteLength(names[0]!) <= MAX_NAME_BYTES && names[0]!.endsWith(".csv"));
    assert.equal(names[1], "eviltxt.exe");
    await session.putFiles(names.map((name) => ({ name, data: Buffer.from("a,b\n1,2\n") })));
    const back = await session.getFiles(names);
    assert.deepEqual(back.map((file) => file.name).sort(), [...names].sort());
  });
});

describe("sandbox capacity", () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;

  before(async () => {
    sandbox = await startTestSandbox({ instance, poolSize: 0, maxSessions: 2 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("past maxSessions the least recently used idle session is removed; held ones never are", async () => {
    const first = await sandbox.acquire("first");
    await first.run("a = 1");
    first.idle();
    const second = await sandbox.acquire("second");
    await second.run("b = 2");
    second.idle();
    const third = await sandbox.acquire("third");
    assert.equal(sandbox.stats().sessions, 2);
    assert.equal((await second.run("b")).value, "2", "the more recently used session stays");
    await assert.rejects(first.run("a"), (error: unknown) => error instanceof SandboxError && error.code === "sandbox_lost");
    const again = await sandbox.acquire("first");
    assert.equal(again.origin, "new", "its conversation gets a new session");
    assert.notEqual(again.id, first.id);
    // "third" (held since acquired) and "first" are held: a fourth conversation must wait.
    await assert.rejects(sandbox.acquire("fourth"), (error: unknown) => error instanceof SandboxError && error.code === "sandbox_busy" && /THREADBOOK_MAX_SESSIONS/.test(error.message));
    third.idle();
    const fourth = await sandbox.acquire("fourth");
    assert.equal((await fourth.run("4")).value, "4");
    assert.equal(sandbox.stats().sessions, 2);
  });
});
