/**
 * The sandbox's trust boundary against a real Docker engine: nothing a cell
 * writes, on any descriptor it can reach, grows this process's memory past a
 * fixed bound, stalls other conversations, or is believed when it breaks the
 * protocol.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SandboxError } from "../src/errors.ts";
import { assertPlainFileName, MAX_NAME_BYTES, sanitizeFileName } from "../src/sandbox/file-names.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { captureLogger } from "./support/capture-logger.ts";
import { FLOOD_EVERY_DESCRIPTOR } from "./support/flood-cell.ts";
import { until } from "./support/until.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

/** Python that finds the runner's request id and protocol descriptor from inside a cell, as hostile code could. */
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
    assert.equal(result.stateLost, true, "the flooding session was restarted");
    assert.match(result.error?.message ?? "", /restarted/);
    assert.ok(peak - before < 100 * megabyte, `resident memory grew by ${Math.round((peak - before) / megabyte)} MB`);
    assert.ok(answered > 0, "the other conversation ran cells during the flood");
    // A bound that holds on a loaded machine; a stalled event loop takes many seconds.
    assert.ok(slowest < 5_000, `another conversation's cell took ${Math.round(slowest)} ms during the flood`);
    assert.equal((await flooding.run("x = 5\nx * 2")).value, "10", "the flooding conversation's next cell runs");
    assert.ok(log.lines().some((line) => line.msg === "runner broke the protocol; its session is restarted"), "one log line says why");
  });

  test("a forged reply with malformed fields ends the cell with a plain note, and the next cell runs", async () => {
    const session = await sandbox.acquire("forge-malformed");
    await session.run("kept = 1");
    const forged = await session.run(`${findProtocol}
forge({"id": request_id, "ok": True, "stdout": "", "stderr": "", "stdout_bytes": 0, "stderr_bytes": 0, "value": None, "error": None,
       "figures": [], "files": 5, "files_omitted": 0, "duration_ms": 1, "timed_out": False})
import time
time.sleep(30)
`);
    assert.equal(forged.stateLost, true);
    assert.match(forged.error?.message ?? "", /sent the bot data it may not send/);
    const next = await session.run("1 + 1");
    assert.equal(next.value, "2");
    assert.equal(next.stateLost, false);
    assert.match((await session.run("'kept' in dir()")).value ?? "", /False/, "state was lost, as the note says");
  });

  test("a forged reply that fits the schema is only the cell's own output; the real reply after it restarts the session", async () => {
    const session = await sandbox.acquire("forge-valid");
    await session.run("kept = 1");
    const forged = await session.run(`${findProtocol}
forge({"id": request_id, "ok": True, "stdout": "forged", "stderr": "", "stdout_bytes": 6, "stderr_bytes": 0, "value": None, "error": None,
       "figures": [], "files": [], "files_omitted": 0, "duration_ms": 1, "timed_out": False})
`);
    assert.equal(forged.stdout, "forged");
    // The runner's own reply follows the forged one at once, and answers no request in flight by then.
    const violations = () => log.lines().filter((line) => line.msg === "runner broke the protocol; its session is restarted" && String(line.reason).includes("no request in flight")).length;
    await until(() => violations() > 0, "the runner's real reply is seen as a violation");
    const next = await session.run("'kept' in dir()");
    assert.equal(next.stateLost, true, "the runner's real reply, to no request in flight, was a violation");
    assert.equal(next.value, "False");
    assert.equal((await session.run("2 * 21")).value, "42");
  });

  test("lines that are not JSON, or answer no request, restart the session", async () => {
    for (const line of ['"not an object"', "{not json", '{"id": 12345, "ok": true}']) {
      const session = await sandbox.acquire(`forge-line-${line.length}`);
      const result = await session.run(`${findProtocol}
os.write(protocol_fd, ${JSON.stringify(line)}.encode() + b"\\n")
import time
time.sleep(30)
`);
      assert.equal(result.stateLost, true, line);
      assert.equal((await session.run("1")).value, "1");
    }
  });

  test("diagnostics reach the log up to a byte cap; a flood of them restarts the session", async () => {
    const session = await sandbox.acquire("diagnostics");
    const logged = () => log.lines().filter((line) => line.msg === "runner wrote to stderr").reduce((sum, line) => sum + String(line.runnerStderr).length, 0);
    const before = logged();
    const result = await session.run(`
import sys, time
for _ in range(4096):
    sys.__stderr__.write("d" * 1023 + "\\n")
sys.__stderr__.flush()
time.sleep(30)
`);
    assert.equal(result.stateLost, true);
    const after = logged() - before;
    assert.ok(after > 0 && after <= 16 * 1024, `${after} characters of diagnostics logged`);
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
