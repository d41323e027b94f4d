/**
 * A skill's declared packages in a real Docker session: with a door out,
 * the first import of the skill installs them from a test index (once: a
 * restarted kernel imports it without installing again), and an index the
 * policy refuses is the import's error naming the package; without a door
 * the import fails plainly, saying the packages cannot be installed here.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { turnEgress } from "../src/core/turn-egress.ts";
import type { Turn } from "../src/core/turn.ts";
import { EgressDoors } from "../src/egress/egress-doors.ts";
import type { EgressGrant } from "../src/egress/egress-grant.ts";
import { parseAllowList } from "../src/egress/egress-policy.ts";
import { PackageCache } from "../src/egress/package-cache.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import type { SessionSkill } from "../src/sandbox/sandbox.ts";
import { requirementsOf } from "../src/skills/front-matter.ts";
import { silentLogger } from "../src/log.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { buildPureWheel, startPackageIndex, type LoopbackServer } from "./support/egress-servers.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const megabyte = 1024 * 1024;

/** A skill whose module imports the test index's pure-Python package. */
function greetingSkill(): SessionSkill {
  const files = [
    {
      path: "SKILL.md",
      data: Buffer.from("---\nname: tb-greeting\ndescription: Greets through tbdemo.\nmetadata:\n  requirements:\n    - tbdemo>=1.0\n---\nfrom skills.tb_greeting import greet\n"),
    },
    { path: "scripts/tb_greeting.py", data: Buffer.from("import tbdemo\n\n\ndef greet():\n    return tbdemo.hello()\n") },
  ];
  return { name: "tb-greeting", files, requirements: requirementsOf(files) };
}

describe("a skill's packages, with a door out", () => {
  const instance = testInstance();
  const directory = mkdtempSync(join(tmpdir(), "tb-skillreq-"));
  let sandbox: DockerSandbox;
  let store: SqliteStore;
  let index: LoopbackServer;

  function grant(key: string, allow: string): EgressGrant {
    const settings = {
      enabled: true, allow: parseAllowList(allow), workspaces: {}, turnBytes: 8 * megabyte, requestsPerMinute: 1000,
      connectionMs: 60_000, packagesMb: 64, pipIndexUrl: undefined,
    };
    const turn: Turn = { conversationKey: key, user: { platform: "slack", id: "U1", workspace: "T1", displayName: null }, text: "", attachments: [] };
    return turnEgress(settings, turn, null, store, silentLogger);
  }

  before(async () => {
    index = await startPackageIndex([buildPureWheel(directory, "tbdemo", "1.0", "hello from a wheel")]);
    store = openSqliteStore(join(directory, "data"), { recoverInterruptedTurns: false });
    const doors = new EgressDoors(join(directory, "egress"), silentLogger, new PackageCache(`http://127.0.0.1:${index.port}/simple`, join(directory, "pip-cache")));
    sandbox = await startTestSandbox({ instance, poolSize: 0, cellTimeoutMs: 60_000, egress: { doors, packagesMb: 64, pipIndexUrl: doors.pipIndexUrl } });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
    await store?.close();
    await index?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  test("the first import installs the skill's packages; a restarted kernel imports it without installing again", async () => {
    const key = "skillreq-open";
    const session = await sandbox.acquire(key, { egress: grant(key, `127.0.0.1:${index.port}`), skills: async () => [greetingSkill()] });
    try {
      const first = await session.run("from skills.tb_greeting import greet\n(greet(), __import__('tbdemo').__file__)");
      assert.equal(first.error, null, first.error?.traceback);
      assert.equal(first.value, "('hello from a wheel', '/packages/tbdemo/__init__.py')");
      assert.match(first.stdout, /Installed tbdemo>=1\.0 for the skill 'tb-greeting'\./);
      assert.deepEqual(index.requests, ["/simple/tbdemo/", "/files/tbdemo-1.0-py3-none-any.whl"]);
      const requests = (await store.egress.listRequests({ conversationKey: key })).length;

      const crash = await session.run("import os\nos._exit(3)");
      assert.equal(crash.stateLost, true);
      const again = await session.run("from skills.tb_greeting import greet\ngreet()");
      assert.equal(again.error, null, again.error?.traceback);
      assert.equal(again.value, "'hello from a wheel'");
      assert.doesNotMatch(again.stdout, /Installed/);
      assert.equal((await store.egress.listRequests({ conversationKey: key })).length, requests, "pip did not run again");
    } finally {
      session.idle();
    }
  });

  test("a package the policy does not let in is the import's error, naming it", async () => {
    const key = "skillreq-refused";
    const session = await sandbox.acquire(key, { egress: grant(key, "192.0.2.1:443"), skills: async () => [greetingSkill()] });
    try {
      const refused = await session.run("import os\nos.environ['PIP_RETRIES'] = '0'\nfrom skills.tb_greeting import greet");
      assert.equal(refused.error?.name, "ImportError");
      assert.match(refused.error?.message ?? "", /The skill 'tb-greeting' needs the packages tbdemo>=1\.0, which could not be installed \(pip exited with code 1\):[\s\S]*tbdemo/);
      const records = await store.egress.listRequests({ conversationKey: key });
      assert.match(records[0]?.reason ?? "", /the package index 127\.0\.0\.1:\d+ is not on the allow-list/);
    } finally {
      session.idle();
    }
  });
});

describe("a skill's packages, without a door out", () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;

  before(async () => {
    sandbox = await startTestSandbox({ instance, poolSize: 0 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("importing the skill says plainly that its packages cannot be installed in this session", async () => {
    const session = await sandbox.acquire("skillreq-closed", { skills: async () => [greetingSkill()] });
    try {
      const imported = await session.run("from skills.tb_greeting import greet");
      assert.equal(imported.error?.name, "ModuleNotFoundError");
      assert.equal(
        imported.error?.message,
        "No module named 'tbdemo'. The skill 'tb-greeting' needs the packages tbdemo>=1.0, which this session cannot install: it has no network (no door out). Work without this skill, or tell the user.",
      );
      const listed = await session.run("import os\nsorted(os.listdir('/skills'))");
      assert.equal(listed.value, "['.python', 'tb-greeting']", "the skill is there to read");
    } finally {
      session.idle();
    }
  });
});
