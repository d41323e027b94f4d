/**
 * The door out of a session, against a real Docker engine and real loopback
 * servers: a cell reaches an allowed server through the proxy on the host
 * (the container keeps no network of its own), a refused one answers 403
 * with the reason, a name resolving to loopback is refused unless the
 * address is named, the limits cut and throttle, pip installs a wheel from
 * a test index into the session, every request is in the store's audit, and
 * without a policy nothing of this exists in the container.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runAuditCommand } from "../src/adapters/cli/audit-command.ts";
import { parseCommandLine } from "../src/adapters/cli/command-line.ts";
import { loadConfig } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import { turnEgress } from "../src/core/turn-egress.ts";
import type { Turn } from "../src/core/turn.ts";
import { EgressDoors } from "../src/egress/egress-doors.ts";
import type { EgressGrant } from "../src/egress/egress-grant.ts";
import { parseAllowList } from "../src/egress/egress-policy.ts";
import { PackageCache } from "../src/egress/package-cache.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { silentLogger } from "../src/log.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, startOpenAIServer, textStep } from "./emulators/openai-server.ts";
import { instructionsOf } from "./support/recorded-requests.ts";
import { buildCompiledWheel, buildPureWheel, startContentServer, startPackageIndex, type LoopbackServer } from "./support/egress-servers.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const megabyte = 1024 * 1024;

function turn(conversationKey: string): Turn {
  return { conversationKey, user: { platform: "slack", id: "U1", workspace: "T1", displayName: null }, text: "", attachments: [] };
}

describe("the door out of a session", () => {
  const instance = testInstance();
  const directory = mkdtempSync(join(tmpdir(), "tb-egress-"));
  let sandbox: DockerSandbox;
  let store: SqliteStore;
  let allowed: LoopbackServer;
  let refused: LoopbackServer;
  let index: LoopbackServer;

  /** The grant a turn of `key` gets under an allow-list and limits, recorded in the store. */
  function grant(key: string, allow: string, limits: Partial<EgressGrant["limits"]> = {}): EgressGrant {
    const settings = {
      enabled: true, allow: parseAllowList(allow), workspaces: {}, turnBytes: 8 * megabyte, requestsPerMinute: 1000,
      connectionMs: 60_000, packagesMb: 64, pipIndexUrl: undefined, ...limits,
    };
    return turnEgress(settings, turn(key), null, store, silentLogger);
  }

  before(async () => {
    allowed = await startContentServer("the allowed server");
    refused = await startContentServer("the refused server");
    const wheel = buildPureWheel(directory, "tbdemo", "1.0", "hello from a wheel");
    index = await startPackageIndex([wheel, buildCompiledWheel(directory, "tbfast", "2.0")]);
    store = openSqliteStore(join(directory, "data"), { recoverInterruptedTurns: false });
    const cache = new PackageCache(`http://127.0.0.1:${index.port}/simple`, join(directory, "pip-cache"));
    const doors = new EgressDoors(join(directory, "egress"), silentLogger, cache);
    sandbox = await startTestSandbox({ instance, poolSize: 0, cellTimeoutMs: 60_000, egress: { doors, packagesMb: 64, pipIndexUrl: doors.pipIndexUrl } });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
    await store?.close();
    await Promise.all([allowed?.close(), refused?.close(), index?.close()]);
    rmSync(directory, { recursive: true, force: true });
  });

  test("a cell gets the allowed server's bytes, a 403 with the reason from the refused one, and no raw socket reaches either", async () => {
    const key = "egress-basic";
    const session = await sandbox.acquire(key, { egress: grant(key, `127.0.0.1:${allowed.port}`) });
    try {
      const fetched = await session.run(`import urllib.request\nurllib.request.urlopen("http://127.0.0.1:${allowed.port}/hello", timeout=30).read().decode()`);
      assert.equal(fetched.error, null, fetched.error?.message);
      assert.equal(fetched.value, "'hello from the allowed server'");

      const refusal = await session.run(`
import urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:${refused.port}/hello", timeout=30)
except urllib.error.HTTPError as error:
    answer = (error.code, error.read().decode().strip())
answer`);
      assert.equal(refusal.error, null, refusal.error?.message);
      assert.match(refusal.value ?? "", /^\(403, 'threadbook egress: 127\.0\.0\.1:\d+ is not on the allow-list \(THREADBOOK_EGRESS_ALLOW\)'\)$/);
      assert.deepEqual(refused.requests, [], "the refused server was never reached");

      const raw = await session.run(`
import socket
outcomes = []
for port in (${allowed.port}, ${refused.port}):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        outcomes.append("connected")
    except OSError as error:
        outcomes.append(type(error).__name__)
outcomes`);
      assert.equal(raw.value, "['ConnectionRefusedError', 'ConnectionRefusedError']");
      const sent = await session.run(`
import socket
try:
    socket.create_connection(("192.0.2.1", 80), timeout=5)
    outcome = "connected"
except OSError as error:
    outcome = type(error).__name__
outcome`);
      assert.notEqual(sent.value, "'connected'");

      const records = await store.egress.listRequests({ conversationKey: key });
      assert.deepEqual(records.map(({ method, host, port, allowed: passed, address }) => ({ method, host, port, passed, address })), [
        { method: "GET", host: "127.0.0.1", port: allowed.port, passed: true, address: "127.0.0.1" },
        { method: "GET", host: "127.0.0.1", port: refused.port, passed: false, address: null },
      ]);
      assert.equal(records[0]?.user, "slack:U1");
      assert.equal(records[0]?.workspace, "T1");
      assert.equal(records[0]?.bytesIn, "hello from the allowed server".length);
      assert.match(records[1]?.reason ?? "", /not on the allow-list/);
    } finally {
      session.idle();
    }
  });

  test("a CONNECT tunnel (as https goes) carries bytes to an allowed port untouched and is refused to another", async () => {
    const key = "egress-basic";
    const session = await sandbox.acquire(key, { egress: grant(key, `127.0.0.1:${allowed.port}`) });
    try {
      const result = await session.run(`
import http.client, os, urllib.request
proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
def through_tunnel(port):
    connection = http.client.HTTPConnection(proxy[0][len("http://"):], int(proxy[1]), timeout=30)
    connection.set_tunnel("127.0.0.1", port)
    try:
        connection.request("GET", "/hello")
        return connection.getresponse().read().decode()
    except OSError as error:
        return str(error)
(through_tunnel(${allowed.port}), through_tunnel(${refused.port}))`);
      assert.equal(result.error, null, result.error?.message);
      assert.match(result.value ?? "", /^\('hello from the allowed server', 'Tunnel connection failed: 403 threadbook egress: 127\.0\.0\.1:\d+ is not on the allow-list \(THREADBOOK_EGRESS_ALLOW\)'\)$/);
      const fronted = await session.run(`urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:${allowed.port}/host", headers={"Host": "intranet.example"}), timeout=30).read().decode()`);
      assert.equal(fronted.value, `'127.0.0.1:${allowed.port}'`, "the Host header is the host the door checked");
      const tunnels = (await store.egress.listRequests({ conversationKey: key })).filter((record) => record.method === "CONNECT");
      assert.deepEqual(tunnels.map((record) => [record.port, record.allowed]), [[allowed.port, true], [refused.port, false]]);
      assert.ok((tunnels[0]?.bytesOut ?? 0) > 0 && (tunnels[0]?.bytesIn ?? 0) > "hello from the allowed server".length);
    } finally {
      session.idle();
    }
  });

  test("the forwarder runs under its own user: the kernel cannot signal it, and a kernel restarted after a crash still has the door", async () => {
    const key = "egress-basic";
    const session = await sandbox.acquire(key, { egress: grant(key, `127.0.0.1:${allowed.port}`) });
    try {
      const signal = await session.run(`
import os, signal
forwarder = [pid for pid in os.listdir("/proc") if pid.isdigit() and "egress_forward" in open("/proc/%s/cmdline" % pid).read()]
uid = open("/proc/%s/status" % forwarder[0]).read().split("Uid:")[1].split()[0]
try:
    os.kill(int(forwarder[0]), signal.SIGKILL)
    outcome = "killed"
except PermissionError:
    outcome = "refused"
(len(forwarder), uid, os.getuid(), outcome)`);
      assert.equal(signal.value, "(1, '10002', 10001, 'refused')");
      const crash = await session.run("import os\nos._exit(3)");
      assert.equal(crash.stateLost, true);
      const fetched = await session.run(`import urllib.request\nurllib.request.urlopen("http://127.0.0.1:${allowed.port}/hello", timeout=30).read().decode()`);
      assert.equal(fetched.value, "'hello from the allowed server'");
    } finally {
      session.idle();
    }
  });

  test("a host name allowed by name but resolving to loopback is refused unless its address is named", async () => {
    const key = "egress-names";
    let session = await sandbox.acquire(key, { egress: grant(key, `localhost:${refused.port}`) });
    const fetch = `
import urllib.request, urllib.error
try:
    answer = urllib.request.urlopen("http://localhost:${refused.port}/hello", timeout=30).read().decode()
except urllib.error.HTTPError as error:
    answer = (error.code, error.read().decode().strip())
answer`;
    try {
      const result = await session.run(fetch);
      assert.match(result.value ?? "", /^\(403, 'threadbook egress: localhost resolves to (127\.0\.0\.1|::1), a loopback, private, link-local or reserved address the allow-list does not name'\)$/);
      assert.deepEqual(refused.requests, []);
    } finally {
      session.idle();
    }
    session = await sandbox.acquire(key, { egress: grant(key, `localhost:${refused.port}, 127.0.0.1:${refused.port}, [::1]:${refused.port}`) });
    try {
      const result = await session.run(fetch);
      assert.equal(result.value, "'hello from the refused server'");
    } finally {
      session.idle();
    }
  });

  test("limits: a response past the turn's bytes is refused, a stream past them is cut, a flood is throttled, a hung connection is ended", async () => {
    const key = "egress-limits";
    const policy = `127.0.0.1:${allowed.port}`;
    let session = await sandbox.acquire(key, { egress: grant(key, policy, { turnBytes: 256 * 1024 }) });
    try {
      const big = await session.run(`
import urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:${allowed.port}/big", timeout=30).read()
except urllib.error.HTTPError as error:
    answer = (error.code, error.read().decode().strip())
answer`);
      assert.match(big.value ?? "", /^\(403, "threadbook egress: the response of 1048576 bytes is over the \d+ bytes left of this turn's allowance \(THREADBOOK_EGRESS_TURN_MB\)"\)$/);
      const stream = await session.run(`
received = 0
try:
    with urllib.request.urlopen("http://127.0.0.1:${allowed.port}/stream", timeout=30) as response:
        while True:
            chunk = response.read(65536)
            if not chunk:
                break
            received += len(chunk)
    outcome = "ended"
except Exception as error:
    outcome = type(error).__name__
(outcome, received <= 256 * 1024)`);
      assert.equal(stream.error, null, stream.error?.message);
      assert.match(stream.value ?? "", /^\('(IncompleteRead|ProtocolError|ConnectionResetError|RemoteDisconnected)', True\)$/);
      const records = await store.egress.listRequests({ conversationKey: key });
      assert.match(records.at(-1)?.reason ?? "", /^cut: this turn used its 262144 bytes through the door/);
      const after = await session.run(`
try:
    urllib.request.urlopen("http://127.0.0.1:${allowed.port}/hello", timeout=30)
except urllib.error.HTTPError as error:
    answer = (error.code, error.read().decode().strip())
answer`);
      assert.match(after.value ?? "", /this turn used its 262144 bytes/);
    } finally {
      session.idle();
    }

    // The rolling minute is the session's, across turns: a flood is counted in a session of its own.
    const flooding = "egress-flood";
    session = await sandbox.acquire(flooding, { egress: grant(flooding, policy, { requestsPerMinute: 5 }) });
    try {
      const flood = await session.run(`
import urllib.request, urllib.error
codes = []
for _ in range(8):
    try:
        codes.append(urllib.request.urlopen("http://127.0.0.1:${allowed.port}/hello", timeout=30).status)
    except urllib.error.HTTPError as error:
        codes.append(error.code)
codes`);
      assert.equal(flood.value, "[200, 200, 200, 200, 200, 403, 403, 403]", "the sixth request of the minute is refused");
      const records = await store.egress.listRequests({ conversationKey: flooding });
      assert.match(records.at(-1)?.reason ?? "", /over 5 requests a minute/);
    } finally {
      session.idle();
    }

    session = await sandbox.acquire(key, { egress: grant(key, policy, { connectionMs: 1000 }) });
    try {
      const hung = await session.run(`
try:
    urllib.request.urlopen("http://127.0.0.1:${allowed.port}/hang", timeout=30).read()
    outcome = "answered"
except urllib.error.HTTPError as error:
    outcome = (error.code, error.read().decode().strip())
outcome`);
      assert.match(hung.value ?? "", /^\(502, 'threadbook egress: cut: the connection passed 1 s \(THREADBOOK_EGRESS_CONNECTION_S\)'\)$/);
    } finally {
      session.idle();
    }
  });

  test("%pip install goes to the policy's index through the bot's cache, installs into the session, and a second session installs from the cache alone", async () => {
    const policy = `127.0.0.1:${index.port}`;
    let session = await sandbox.acquire("egress-pip", { egress: grant("egress-pip", policy) });
    try {
      const install = await session.run("%pip install tbdemo\n!pip install tbfast");
      assert.equal(install.error, null, install.error?.message);
      assert.match(install.stdout, /Successfully installed tbdemo-1\.0[\s\S]*Successfully installed tbfast-2\.0/, `${install.stdout}\n${install.stderr}`);
      const used = await session.run("import tbdemo, tbfast\n(tbdemo.hello(), tbdemo.__file__, tbfast.add(2, 3), tbfast.__file__)");
      assert.equal(used.error, null, JSON.stringify(used.error));
      assert.equal(used.value, "('hello from a wheel', '/packages/tbdemo/__init__.py', 5, '/packages/tbfast.cpython-311-x86_64-linux-gnu.so')");
      assert.deepEqual(index.requests, ["/simple/tbdemo/", "/files/tbdemo-1.0-py3-none-any.whl", "/simple/tbfast/", "/files/tbfast-2.0-cp311-cp311-linux_x86_64.whl"]);
    } finally {
      session.idle();
    }
    session = await sandbox.acquire("egress-pip-again", { egress: grant("egress-pip-again", policy) });
    try {
      const install = await session.run("import subprocess, sys\nsubprocess.run([sys.executable, '-m', 'pip', 'install', 'tbdemo', 'tbfast'], capture_output=True, text=True).stdout");
      assert.match(install.value ?? "", /Successfully installed tbdemo-1\.0 tbfast-2\.0/);
      const used = await session.run("import tbdemo, tbfast\n(tbdemo.hello(), tbfast.add(40, 2))");
      assert.equal(used.value, "('hello from a wheel', 42)");
      assert.equal(index.requests.length, 4, "the second session asked the index nothing");
      const records = await store.egress.listRequests({ conversationKey: "egress-pip-again" });
      assert.equal(records.length, 4);
      assert.ok(records.every((record) => record.allowed && record.address === "cache" && record.reason === "from the package cache"));
    } finally {
      session.idle();
    }
    const refused = await sandbox.acquire("egress-pip-refused", { egress: grant("egress-pip-refused", `127.0.0.1:${allowed.port}`) });
    try {
      const install = await refused.run("%pip install --retries 0 tbdemo");
      // pip reads a refused project page as no versions; the audit says why.
      assert.match(`${install.stdout}${install.stderr}`, /No matching distribution found for tbdemo/);
      const records = await store.egress.listRequests({ conversationKey: "egress-pip-refused" });
      assert.match(records[0]?.reason ?? "", /the package index 127\.0\.0\.1:\d+ is not on the allow-list/);
    } finally {
      refused.idle();
    }
  });

  test("a turn's cells go out under its workspace's own list, else the global one, each request audited as that turn's", async (t) => {
    // The store the other tests record in (a second connection to it), so the audit below lists this turn's requests too.
    const dataDir = join(directory, "data");
    const config = loadConfig({
      THREADBOOK_DATA_DIR: dataDir,
      THREADBOOK_EGRESS_ALLOW: `127.0.0.1:${refused.port}`,
      THREADBOOK_EGRESS_ALLOW_SLACK_T1: `127.0.0.1:${allowed.port}`,
    });
    const apiKey = "sk-test-egress-0123456789";
    const emulator = await startOpenAIServer({ apiKey });
    const agentStore = openSqliteStore(dataDir);
    const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", maxRetries: 0, timeoutMs: 10_000 });
    const agent = new Agent({ model, sandbox, store: agentStore, settings: config, logger: silentLogger });
    t.after(async () => {
      await agent.idle();
      await agentStore.close();
      await emulator.stop();
      emulator.assertDone();
    });
    const fetchBoth = `
import urllib.request, urllib.error
def fetch(port):
    try:
        return urllib.request.urlopen("http://127.0.0.1:%d/hello" % port, timeout=30).read().decode()
    except urllib.error.HTTPError as error:
        return error.code
(fetch(${allowed.port}), fetch(${refused.port}))`;
    const ask = (user: Turn["user"], key: string) => agent.handle({ conversationKey: key, user, text: "fetch both", attachments: [] }, { progress: { report: () => undefined } });

    emulator.script([codeStep(fetchBoth), textStep("done")]);
    const inTeam = await ask({ platform: "slack", id: "U1", workspace: "T1", displayName: null }, "slack:T1:C1:1.0");
    assert.equal(inTeam.cells[0]?.value, "('hello from the allowed server', 403)");
    emulator.script([codeStep(fetchBoth), textStep("done")]);
    const elsewhere = await ask({ platform: "slack", id: "U2", workspace: "T2", displayName: null }, "slack:T2:C1:1.0");
    assert.equal(elsewhere.cells[0]?.value, "(403, 'hello from the refused server')");
    const [first, , third] = emulator.requests;
    assert.ok(first !== undefined && third !== undefined);
    assert.match(instructionsOf(first), new RegExp(`- Network only through a proxy .* to these hosts: 127\\.0\\.0\\.1:${allowed.port}\\. Anything else gets HTTP 403`));
    assert.match(instructionsOf(third), new RegExp(`to these hosts: 127\\.0\\.0\\.1:${refused.port}\\.`));
    assert.doesNotMatch(instructionsOf(first), /No network/);

    const records = [
      ...(await agentStore.egress.listRequests({ conversationKey: "slack:T1:C1:1.0" })),
      ...(await agentStore.egress.listRequests({ conversationKey: "slack:T2:C1:1.0" })),
    ];
    assert.deepEqual(records.map((record) => [record.conversationKey, record.turnId, record.user, record.workspace, record.port, record.allowed]), [
      ["slack:T1:C1:1.0", inTeam.turnId, "slack:U1", "T1", allowed.port, true],
      ["slack:T1:C1:1.0", inTeam.turnId, "slack:U1", "T1", refused.port, false],
      ["slack:T2:C1:1.0", elsewhere.turnId, "slack:U2", "T2", allowed.port, false],
      ["slack:T2:C1:1.0", elsewhere.turnId, "slack:U2", "T2", refused.port, true],
    ]);
    await sandbox.release("slack:T1:C1:1.0");
    await sandbox.release("slack:T2:C1:1.0");
  });

  test("threadbook audit --egress lists every request of the run: each one a server saw is there as allowed, the others as refused", async () => {
    const commandLine = parseCommandLine(["audit", "--egress", "--json", "--since", "all"]);
    assert.equal(commandLine.command, "audit");
    if (commandLine.command !== "audit") return;
    const config = loadConfig({ THREADBOOK_DATA_DIR: join(directory, "data") });
    let output = "";
    await runAuditCommand(commandLine.options, config, async (text) => { output += text; });
    const lines = output.trim().split("\n").map((line) => JSON.parse(line) as { allowed: boolean; host: string; port: number; user: string; bytesIn: number; address: string | null });
    const seen = allowed.requests.length + refused.requests.length + index.requests.length;
    assert.equal(lines.filter((line) => line.allowed && line.address !== "cache").length, seen);
    assert.ok(lines.filter((line) => !line.allowed).length >= 5);
    assert.ok(lines.every((line) => /^slack:U[12]$/.test(line.user) && (line.host === "127.0.0.1" || line.host === "localhost")));
    let table = "";
    await runAuditCommand({ ...commandLine.options, json: false }, config, async (text) => { table += text; });
    assert.match(table, /^WHEN \(UTC\)\s+USER\s+WORKSPACE\s+CONVERSATION\s+METHOD\s+HOST\s+VERDICT\s+OUT\s+IN\s+TOOK\s+REASON\n/);
    assert.match(table, new RegExp(`GET\\s+127\\.0\\.0\\.1:${refused.port}\\s+refused .*not on the allow-list`));
    assert.match(table, new RegExp(`${lines.length} requests through the door out\\.\\n$`));
  });
});

describe("without a policy", () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;

  before(async () => {
    sandbox = await startTestSandbox({ instance, poolSize: 0 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("the container has no door, no proxy settings and no package directory, and nothing reaches out", async () => {
    const session = await sandbox.acquire("no-egress");
    try {
      const result = await session.run(`
import os, socket, sys, urllib.request
try:
    urllib.request.urlopen("http://192.0.2.1/", timeout=5)
    fetched = "fetched"
except Exception as error:
    fetched = type(error).__name__
(os.path.exists("/run/threadbook"), os.path.exists("/packages"), sorted(k for k in os.environ if "proxy" in k.lower() or k.startswith("PIP_")), "/packages" in sys.path, fetched)`);
      assert.equal(result.value, "(False, False, [], False, 'URLError')");
    } finally {
      session.idle();
    }
  });
});
