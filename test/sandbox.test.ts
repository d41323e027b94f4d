/** The Docker sandbox against a real Docker engine: state, files, limits, isolation, recovery. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { finished } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import Docker from "dockerode";
import { SandboxError } from "../src/errors.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { sessionContainerName } from "../src/sandbox/docker/docker-sandbox.ts";
import { containerGone, instanceContainers, removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Whether a file exists in the container, asked by `docker exec`: out of band, as the session's channel may be busy with a cell. */
async function fileExists(container: Docker.Container, path: string): Promise<boolean> {
  const exec = await container.exec({ Cmd: ["test", "-e", path], User: "10001:10001", AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  stream.resume();
  await finished(stream);
  return (await exec.inspect()).ExitCode === 0;
}

/** Waits until a file exists in the container, checking every 100 ms; fails past `withinMs`. */
async function waitForFile(container: Docker.Container, path: string, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await fileExists(container, path))) {
    if (Date.now() > deadline) assert.fail(`${path} did not appear within ${withinMs} ms`);
    await delay(100);
  }
}

describe("docker sandbox", () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;

  before(async () => {
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 3_000 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("state persists across cells and the last expression is shown", async () => {
    const session = await sandbox.acquire("state");
    const first = await session.run("total = 40\nprint('set')");
    assert.equal(first.stdout, "set\n");
    assert.equal(first.value, null);
    const second = await session.run("total + 2");
    assert.equal(second.value, "42");
    assert.equal(second.error, null);
    const silenced = await session.run("total;");
    assert.equal(silenced.value, null);
  });

  test("the same conversation gets the same session back", async () => {
    const first = await sandbox.acquire("same");
    await first.run("marker = 'kept'");
    const again = await sandbox.acquire("same");
    assert.equal(again.id, first.id);
    assert.equal(again.origin, "resumed");
    assert.equal((await again.run("marker")).value, "'kept'");
  });

  test("a DataFrame comes back as a readable table and errors as a trimmed traceback", async () => {
    const session = await sandbox.acquire("frames");
    const table = await session.run("import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Lima'], 'people': [709000, 10900000]})");
    assert.match(table.value ?? "", /city\s+people\n0\s+Oslo\s+709000\n1\s+Lima\s+10900000/);
    const failed = await session.run("def load():\n    return {}['missing']\nload()");
    assert.equal(failed.error?.name, "KeyError");
    assert.match(failed.error?.traceback ?? "", /File "<cell \d+>", line 2, in load/);
    assert.doesNotMatch(failed.error?.traceback ?? "", /runner\.py/);
    const syntax = await session.run("def broken(:");
    assert.equal(syntax.error?.name, "SyntaxError");
    assert.doesNotMatch(syntax.error?.traceback ?? "", /ast\.py/);
  });

  test("stdout and stderr are captured apart, including from subprocesses", async () => {
    const session = await sandbox.acquire("streams");
    const result = await session.run("import sys, subprocess\nprint('out')\nprint('err', file=sys.stderr)\nsubprocess.run(['sh', '-c', 'echo child-out; echo child-err >&2'])\nNone");
    assert.equal(result.stdout, "out\nchild-out\n");
    assert.equal(result.stderr, "err\nchild-err\n");
  });

  test("a flood of output is bounded, head and tail kept, the size reported", async () => {
    const session = await sandbox.acquire("flood");
    const result = await session.run("for i in range(200000):\n    print('line', i)");
    assert.ok(result.stdoutBytes > 2_000_000, `stdoutBytes ${result.stdoutBytes}`);
    assert.ok(result.stdout.length < 9_000, `kept ${result.stdout.length} characters`);
    assert.match(result.stdout, /^line 0\n/);
    assert.match(result.stdout, /line 199999\n$/);
    assert.match(result.stdout, /bytes of output cut/);
  });

  test("a figure comes back as a PNG file", async () => {
    const session = await sandbox.acquire("figure");
    const result = await session.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title('trend')\nplt.show()");
    assert.equal(result.figures.length, 1);
    const figure = result.figures[0]!;
    assert.ok(result.files.some((file) => file.name === figure.name));
    const [png] = await session.getFiles([figure.name]);
    assert.ok(png, "figure file read back");
    assert.deepEqual(png.data.subarray(0, 8), PNG_MAGIC);
    assert.equal(png.bytes, figure.bytes);
    assert.deepEqual(figure.png, png.data, "the figure came back inline with the result, the same bytes as its file");
  });

  test("a file goes in, a new file comes out, and the input is not reported as made by the cell", async () => {
    const session = await sandbox.acquire("files");
    const written = await session.putFiles([{ name: "orders.csv", data: Buffer.from("id,amount\n1,10\n2,30\n3,20\n") }]);
    assert.deepEqual(written, [{ name: "orders.csv", bytes: 25 }]);
    const [preview] = await session.previewFiles(["orders.csv"]);
    assert.equal(preview?.kind, "csv");
    assert.match(preview?.head ?? "", /^id,amount\n1,10/);
    const result = await session.run("import pandas as pd\nframe = pd.read_csv('orders.csv')\nframe.describe().to_csv('summary.csv')\nframe['amount'].median()");
    assert.equal(result.value, "20.0");
    assert.deepEqual(result.files.map((file) => file.name), ["summary.csv"]);
    const [summary] = await session.getFiles(["summary.csv"]);
    assert.match(summary?.data.toString("utf8") ?? "", /^,id,amount\ncount,3.0,3.0/);
    const listed = await session.listFiles();
    assert.deepEqual(listed.map((file) => file.name).sort(), ["orders.csv", "summary.csv"]);
  });

  test("many new files: a cell lists 500 and counts the rest, the full listing has them all", async () => {
    const session = await sandbox.acquire("many-files");
    const result = await session.run("import os\nos.makedirs('parts')\nfor i in range(600):\n    open(f'parts/{i:03}.txt', 'w').write(str(i))");
    assert.equal(result.files.length, 500);
    assert.equal(result.filesOmitted, 100);
    const listed = await session.listFiles();
    assert.equal(listed.length, 600);
    assert.ok(listed.some((file) => file.name === "parts/599.txt"));
    const [last] = await session.getFiles(["parts/599.txt"]);
    assert.equal(last?.data.toString("utf8"), "599");
  });

  test("file names with path tricks, symlinks out and huge files are refused", async () => {
    const session = await sandbox.acquire("tricks");
    await assert.rejects(session.putFiles([{ name: "../escape.txt", data: Buffer.from("x") }]), (error: unknown) => error instanceof SandboxError && error.code === "file_rejected");
    await assert.rejects(session.getFiles(["../../etc/passwd"]), (error: unknown) => error instanceof SandboxError && error.code === "file_rejected");
    await assert.rejects(session.getFiles(["/etc/passwd"]), /not inside/);
    await assert.rejects(session.putFiles([{ name: "huge.bin", data: Buffer.alloc(17 * 1024 * 1024) }]), /up to 16\.0 MB \(THREADBOOK_SANDBOX_FILE_MB\)/);
    const linked = await session.run("import os\nos.symlink('/etc/passwd', 'passwd-link')\nos.makedirs('sub')\nos.symlink('/etc', 'sub/etc-link')\nsorted(os.listdir('.'))");
    assert.equal(linked.value, "['passwd-link', 'sub']");
    assert.deepEqual(linked.files, []);
    assert.deepEqual(await session.getFiles(["passwd-link", "sub/etc-link/passwd"]), []);
  });

  test("an endless loop is stopped at its limit and the next cell runs with state kept", async () => {
    const session = await sandbox.acquire("loop");
    await session.run("before = 'still here'");
    const started = performance.now();
    const looped = await session.run("while True:\n    pass", { timeoutMs: 1_000 });
    const waited = performance.now() - started;
    assert.equal(looped.timedOut, true);
    assert.equal(looped.stateLost, false);
    // Stopped by its own limit inside the runner, not by the host's interrupt that would follow seconds later.
    assert.equal(looped.error?.name, "TimeoutError");
    assert.match(looped.error?.message ?? "", /THREADBOOK_CELL_TIMEOUT_S/);
    // Not before its limit; and the caller waited at least as long as the cell ran. Both hold however loaded the machine.
    assert.ok(looped.durationMs >= 1_000, `stopped after ${looped.durationMs} ms`);
    assert.ok(waited >= looped.durationMs, `waited ${waited} ms for a cell that ran ${looped.durationMs} ms`);
    assert.equal((await session.run("before")).value, "'still here'");
  });

  test("a cell stuck in C code has its kernel restarted, its files kept, and the caller is told", async () => {
    const session = await sandbox.acquire("stuck");
    const oldId = session.id;
    await session.run("doomed = 1\nopen('kept.txt', 'w').write('still here')");
    // Code that blocks the signals its limit and the interrupt arrive by cannot be stopped from inside.
    const stuck = await session.run("import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGINT})\nwhile True:\n    pass", { timeoutMs: 1_000 });
    assert.equal(stuck.timedOut, true);
    assert.equal(stuck.stateLost, true);
    assert.match(stuck.error?.message ?? "", /variables are gone; the files in the working directory are kept/);
    assert.equal(session.id, oldId, "the same container: only the kernel was restarted");
    const next = await session.run("('doomed' in globals(), open('kept.txt').read())");
    assert.equal(next.value, "(False, 'still here')");
  });

  test("a memory bomb fails inside the sandbox and the session keeps working", async () => {
    const session = await sandbox.acquire("memory");
    const bystander = await sandbox.acquire("memory-bystander");
    await bystander.run("calm = True");
    await session.run("survivor = 7");
    // Filling 384 MB takes a CPU-starved machine seconds: the suite's 3 s cell limit (there for the timeout tests) is not what this checks.
    const bomb = await session.run("blocks = []\nwhile True:\n    blocks.append(bytearray(32 * 1024 * 1024))", { timeoutMs: 60_000 });
    assert.equal(bomb.error?.name, "MemoryError");
    assert.equal(bomb.stateLost, false);
    const next = await session.run("del blocks\nsurvivor");
    assert.equal(next.error, null);
    assert.equal(next.value, "7", "the session's state was kept");
    assert.equal((await bystander.run("calm")).value, "True");
  });

  test("a fork bomb fails inside the sandbox and the session keeps working", async () => {
    const session = await sandbox.acquire("forks");
    const bystander = await sandbox.acquire("forks-bystander");
    const bomb = await session.run("import os, time\nchildren = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n        children += 1\nexcept OSError as error:\n    print('stopped after', children, type(error).__name__)", { timeoutMs: 8_000 });
    assert.match(bomb.stdout, /stopped after \d+ BlockingIOError/);
    const children = Number(/stopped after (\d+)/.exec(bomb.stdout)?.[1]);
    assert.ok(children < 64, `${children} processes started`);
    assert.equal((await session.run("'alive'")).value, "'alive'");
    assert.equal((await bystander.run("sum(range(10))")).value, "45");
  });

  test("a disk filler and writes outside the working directory fail inside the sandbox", async () => {
    const session = await sandbox.acquire("disk");
    const filler = await session.run("with open('fill.bin', 'wb') as out:\n    while True:\n        out.write(b'x' * 1024 * 1024)");
    assert.equal(filler.error?.name, "OSError");
    assert.match(filler.error?.message ?? "", /No space left|File too large/);
    const root = await session.run("open('/etc/evil', 'w')");
    assert.match(root.error?.message ?? "", /Read-only file system|Permission denied/);
    assert.equal((await session.run("import os\nos.remove('fill.bin')\nos.getuid()")).value, "10001");
  });

  test("there is no network and no host environment inside", async () => {
    const session = await sandbox.acquire("isolation");
    // Only the loopback interface exists; name resolution has nowhere to go.
    const network = await session.run("import os, socket\ninterfaces = sorted(os.listdir('/sys/class/net'))\ntry:\n    socket.getaddrinfo('example.com', 80)\n    resolved = True\nexcept OSError:\n    resolved = False\n(interfaces, resolved)");
    assert.equal(network.value, "(['lo'], False)");
    // Only what the image and container-spec.ts set (PYTHONPATH: the skills package); nothing of the host's environment.
    const environment = await session.run("import os\nsorted(k for k in os.environ if not k.startswith(('LANG', 'LC_')))");
    assert.equal(environment.value, "['DEBIAN_FRONTEND', 'HOME', 'HOSTNAME', 'MPLBACKEND', 'MPLCONFIGDIR', 'PATH', 'PYTHONDONTWRITEBYTECODE', 'PYTHONPATH', 'THREADBOOK_WORKDIR']");
  });

  test("the container is hardened", async () => {
    const session = await sandbox.acquire("hardened");
    const info = await new Docker().getContainer(sessionContainerName(instance, "hardened")).inspect();
    const host = info.HostConfig;
    // The supervisor is root with four capabilities; the user's code runs in the kernel, as the sandbox user with none.
    assert.equal(info.Config.User, "0:10001");
    assert.equal(host.NetworkMode, "none");
    assert.equal(host.ReadonlyRootfs, true);
    assert.deepEqual(host.CapDrop, ["ALL"]);
    assert.deepEqual([...(host.CapAdd ?? [])].sort(), ["CHOWN", "KILL", "SETGID", "SETUID"]);
    assert.equal((host as { OomScoreAdj?: number }).OomScoreAdj, 800);
    assert.deepEqual(host.SecurityOpt, ["no-new-privileges"]);
    assert.equal(host.Memory, 384 * 1024 * 1024);
    assert.equal(host.MemorySwap, host.Memory);
    assert.equal(host.PidsLimit, 64);
    assert.ok(host.NanoCpus && host.NanoCpus > 0);
    assert.match(JSON.stringify(host.Tmpfs), /size=64m/);
    const capabilities = await session.run("status = open('/proc/self/status').read()\n(status.split('CapEff:')[1].split()[0], status.split('CapPrm:')[1].split()[0], os.getuid() if (os := __import__('os')) else None)");
    assert.equal(capabilities.value, "('0000000000000000', '0000000000000000', 10001)");
    // The kernel can neither signal nor trace its supervisor.
    const reach = await session.run("import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGSTOP)\n    signalled = True\nexcept PermissionError:\n    signalled = False\ntry:\n    os.listdir('/proc/%d/fd' % os.getppid())\n    fds = True\nexcept PermissionError:\n    fds = False\n(signalled, fds)");
    assert.equal(reach.value, "(False, False)");
  });

  test("several sessions run at once, each with its own state", async () => {
    const keys = ["parallel-a", "parallel-b", "parallel-c"];
    const sessions = await Promise.all(keys.map((key) => sandbox.acquire(key)));
    assert.equal(new Set(sessions.map((session) => session.id)).size, 3);
    await Promise.all(sessions.map((session, index) => session.run(`mine = ${index}\nimport time\ntime.sleep(0.3)`)));
    const values = await Promise.all(sessions.map((session) => session.run("mine")));
    assert.deepEqual(values.map((result) => result.value), ["0", "1", "2"]);
  });

  test("a session that dies is replaced and the caller told", async () => {
    const session = await sandbox.acquire("dies");
    const died = await session.run("import os\nos._exit(3)");
    assert.equal(died.stateLost, true);
    assert.equal(died.error?.name, "SessionDied");
    assert.equal((await session.run("'back'")).value, "'back'");
  });

  test("an interrupt that lands between cells leaves the session alone", async () => {
    const session = await sandbox.acquire("late-interrupt");
    await session.run("kept = 'yes'");
    const id = session.id;
    await new Docker().getContainer(sessionContainerName(instance, "late-interrupt")).kill({ signal: "SIGINT" });
    const next = await session.run("kept");
    assert.equal(next.value, "'yes'");
    assert.equal(session.id, id);
  });

  test("a session released while a cell runs ends that cell with a plain error, not a restart", async () => {
    const session = await sandbox.acquire("released-mid-cell");
    const running = assert.rejects(session.run("open('started', 'w').close()\nimport time\ntime.sleep(5)"), (error: unknown) => error instanceof SandboxError && error.code === "sandbox_lost");
    await waitForFile(new Docker().getContainer(sessionContainerName(instance, "released-mid-cell")), "/work/started", 10_000);
    await sandbox.release("released-mid-cell");
    await running;
    const names = (await instanceContainers(instance)).map((info) => info.Names[0]);
    assert.ok(!names.includes(`/${sessionContainerName(instance, "released-mid-cell")}`), "no container restarted under the released name");
  });

  test("release ends the session", async () => {
    const session = await sandbox.acquire("released");
    const id = session.id;
    await sandbox.release("released");
    const fresh = await sandbox.acquire("released");
    assert.notEqual(fresh.id, id);
    assert.equal(fresh.origin, "new");
  });
});

describe("docker sandbox preloading", () => {
  const instance = testInstance();
  after(() => removeInstance(instance));

  test("a warm container has the data stack imported; one started while someone waits imports only numpy ahead, and its first pyplot figure and saved file are handled as a warm one's", async () => {
    const warm = await startTestSandbox({ instance, poolSize: 1 });
    try {
      await warm.warmUp();
      const claimed = await warm.acquire("from-the-pool");
      assert.equal((await claimed.run("import sys\nsorted(name for name in ('numpy', 'pandas', 'matplotlib.pyplot') if name in sys.modules)")).value, "['matplotlib.pyplot', 'numpy', 'pandas']");
    } finally {
      await warm.close();
    }
    const cold = await startTestSandbox({ instance: `${instance}-cold`, poolSize: 0 });
    try {
      const session = await cold.acquire("on-demand");
      const loaded = await session.run("import sys\nsorted(name for name in ('numpy', 'pandas', 'matplotlib', 'matplotlib.pyplot') if name in sys.modules)");
      assert.equal(loaded.value, "['numpy']", "of the data stack only numpy (its BLAS must load before the memory cap) before the first cell");
      // pyplot gets the kernel's hooks as the cell first imports it: show() draws nothing and warns of nothing,
      // the figure comes back, and one the code saved itself is not saved a second time.
      const plotted = await session.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.savefig('mine.png')\nplt.show()\nplt.figure()\nplt.plot([3, 2, 1])\nplt.show()");
      assert.equal(plotted.error, null);
      assert.equal(plotted.stderr, "", "no warning from show()");
      const names = plotted.figures.map((figure) => figure.name);
      assert.equal(names.length, 2);
      assert.equal(names[0], "mine.png", "the figure the code saved itself is reported as its own file, not saved again");
      assert.match(names[1]!, /^figure-\d+\.png$/);
    } finally {
      await cold.close();
      await removeInstance(`${instance}-cold`);
    }
  });
});

describe("docker sandbox across processes", () => {
  const instance = testInstance();
  after(() => removeInstance(instance));

  test("a manager that dies while a cell runs leaves the session to the next one, which interrupts the leftover cell and keeps the variables", async () => {
    const first = await startTestSandbox({ instance, poolSize: 0 });
    const session = await first.acquire("mid-cell");
    await session.run("kept = 7");
    // Longer than any test: only the interrupt can end it.
    const running = session.run("open('started', 'w').close()\nimport time\ntime.sleep(100_000)\nlate = 1");
    running.catch(() => undefined);
    await waitForFile(new Docker().getContainer(sessionContainerName(instance, "mid-cell")), "/work/started", 10_000);
    // As a killed process would: its channel gone while the cell runs, the container left running.
    await first.close();
    const second = await startTestSandbox({ instance, poolSize: 0 });
    try {
      const again = await second.acquire("mid-cell");
      assert.equal(again.origin, "resumed");
      // The cell the first manager started was interrupted (its turn is over); its late reply is dropped, not taken as a violation.
      const result = await again.run("(kept, 'late' in globals())");
      assert.equal(result.stateLost, false);
      assert.equal(result.value, "(7, False)");
    } finally {
      await second.close();
    }
  });

  test("a restarted manager finds the session, and leftovers are removed", async () => {
    const first = await startTestSandbox({ instance });
    const session = await first.acquire("survives");
    await session.run("answer = 42");
    const plot = "import matplotlib.pyplot as plt\nplt.plot([1, 2])";
    const firstFigure = (await session.run(plot)).figures[0]?.name;
    const id = session.id;
    await first.close();

    // Leftovers of a crash: a warm container and a dead session container of this instance.
    const docker = new Docker();
    const spec = { Image: first.image, Labels: { "threadbook.instance": instance }, Cmd: ["true"] };
    await docker.createContainer({ ...spec, name: `${instance}-pool-leftover` });
    const dead = await docker.createContainer({ ...spec, name: `${instance}-s-deadbeef` });
    await dead.start();
    await dead.wait();
    // Warm containers of another process on this host: kept while it runs, removed once it is gone.
    const neighbour = spawn("sleep", ["60"]);
    const gone = spawn("true");
    await once(gone, "exit");
    const warmSpec = { ...spec, Cmd: ["sleep", "60"] };
    await (await docker.createContainer({ ...warmSpec, name: `${instance}-pool-neighbour`, Labels: { ...spec.Labels, "threadbook.owner": `${hostname()}:${neighbour.pid}` } })).start();
    await (await docker.createContainer({ ...warmSpec, name: `${instance}-pool-gone`, Labels: { ...spec.Labels, "threadbook.owner": `${hostname()}:${gone.pid}` } })).start();

    const second = await startTestSandbox({ instance });
    try {
      const names = (await instanceContainers(instance)).map((info) => info.Names[0]);
      assert.ok(!names.includes(`/${instance}-pool-leftover`), "warm leftover removed");
      assert.ok(!names.includes(`/${instance}-s-deadbeef`), "dead session removed");
      assert.ok(names.includes(`/${instance}-pool-neighbour`), "a running neighbour's warm container kept");
      assert.ok(!names.includes(`/${instance}-pool-gone`), "a gone process's warm container removed");
      const again = await second.acquire("survives");
      assert.equal(again.id, id);
      assert.equal(again.origin, "resumed");
      assert.equal((await again.run("answer")).value, "42");
      // Cell numbers go on where they were, so a new figure never overwrites an earlier one.
      const secondFigure = (await again.run(plot)).figures[0]?.name;
      assert.ok(firstFigure && secondFigure && firstFigure !== secondFigure, `${firstFigure} then ${secondFigure}`);
      assert.deepEqual((await again.listFiles()).map((file) => file.name).sort(), [firstFigure, secondFigure].sort());
    } finally {
      neighbour.kill();
      await second.close();
    }
  });

  test("a busy session is not reaped, and another running process's session is left to it", async () => {
    const neighbour = spawn("sleep", ["60"]);
    const docker = new Docker();
    const foreignName = `${instance}-s-foreign`;
    const sandbox = await startTestSandbox({ instance, idleTtlMs: 1_500, poolSize: 0 });
    try {
      const foreign = await docker.createContainer({ Image: sandbox.image, name: foreignName, Cmd: ["sleep", "60"], Labels: { "threadbook.instance": instance, "threadbook.owner": `${hostname()}:${neighbour.pid}` } });
      await foreign.start();
      // Adopted by a fresh sweep, as a restarted bot would see it.
      const second = await startTestSandbox({ instance, idleTtlMs: 1_500, poolSize: 0 });
      try {
        const session = await sandbox.acquire("busy");
        const long = await session.run("import time\ntime.sleep(4)\n'done'", { timeoutMs: 8_000 });
        assert.equal(long.value, "'done'");
        assert.equal(long.stateLost, false);
        const names = (await instanceContainers(instance)).map((info) => info.Names[0]);
        assert.ok(names.includes(`/${foreignName}`), "a live process's session kept");
        neighbour.kill();
        await once(neighbour, "exit");
        assert.ok(await containerGone(instance, foreignName, 10_000), "reaped once its process is gone");
      } finally {
        await second.close();
      }
    } finally {
      neighbour.kill();
      await sandbox.close();
    }
  });

  test("idle sessions are reaped after their time to live", async () => {
    const sandbox = await startTestSandbox({ instance, idleTtlMs: 1_500, poolSize: 0 });
    try {
      (await sandbox.acquire("idle")).idle();
      assert.ok(await containerGone(instance, sessionContainerName(instance, "idle"), 10_000), "idle session removed");
    } finally {
      await sandbox.close();
    }
  });
});

describe("docker sandbox errors", () => {
  test("Docker not reachable gives a plain, typed error", async () => {
    await assert.rejects(startTestSandbox({ dockerHost: "unix:///nonexistent/docker.sock" }), (error: unknown) =>
      error instanceof SandboxError && error.code === "docker_unavailable" && /Docker is not running/.test(error.message));
  });

  test("a missing image gives a plain, typed error naming the fix", async () => {
    await assert.rejects(startTestSandbox({ image: "threadbook-sandbox:does-not-exist", buildMissingImage: true }), (error: unknown) =>
      error instanceof SandboxError && error.code === "image_missing" && /THREADBOOK_SANDBOX_IMAGE/.test(error.message));
  });
});
