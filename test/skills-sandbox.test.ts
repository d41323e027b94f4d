/** Skills in a real Docker session: under /skills, importable as skills.<stem>, readable and not writable by the code. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SandboxError } from "../src/errors.ts";
import type { SessionSkill } from "../src/sandbox/sandbox.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const instance = testInstance();
let sandbox: DockerSandbox;

const fiscal: SessionSkill = {
  name: "fiscal-calendar",
  files: [
    { path: "SKILL.md", data: Buffer.from("---\nname: fiscal-calendar\ndescription: Fiscal quarters.\n---\nUse quarter_of.\n") },
    { path: "scripts/fiscal_calendar.py", data: Buffer.from("def quarter_of(month):\n    return (month - 1) // 3 + 1\n") },
  ],
  requirements: [],
};

describe("skills in a session", () => {
  before(async () => {
    sandbox = await startTestSandbox({ instance, poolSize: 1 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  it("a new session holds its skills read-only under /skills and imports them as skills.<stem>", async () => {
    let asked = 0;
    const session = await sandbox.acquire("skills:one", { skills: async () => { asked += 1; return [fiscal]; } });
    try {
      const imported = await session.run("from skills.fiscal_calendar import quarter_of\nquarter_of(5)");
      assert.equal(imported.error, null, imported.error?.traceback);
      assert.equal(imported.value, "2");
      const read = await session.run("open('/skills/fiscal-calendar/SKILL.md').read().splitlines()[1]");
      assert.equal(read.value, "'name: fiscal-calendar'");
      for (const code of [
        "open('/skills/fiscal-calendar/scripts/fiscal_calendar.py', 'a').write('X = 1')",
        "open('/skills/new.py', 'w').write('X = 1')",
        "import os; os.remove('/skills/fiscal-calendar/SKILL.md')",
        "import os; os.mkdir('/skills/fiscal-calendar/more')",
      ]) {
        const write = await session.run(code);
        assert.ok(write.error !== null, `${code} must fail`);
        assert.match(write.error.name, /PermissionError|OSError/, code);
      }
      session.idle();
      // A running session is not given skills again.
      (await sandbox.acquire("skills:one", { skills: async () => { asked += 1; return []; } })).idle();
      assert.equal(asked, 1);
    } finally {
      await sandbox.release("skills:one");
    }
  });

  it("a running session given another set of skills holds that set at once, imports included", async () => {
    const quarters: SessionSkill = {
      name: "quarters",
      files: [
        { path: "SKILL.md", data: Buffer.from("---\nname: quarters\ndescription: Quarter labels.\n---\n") },
        { path: "scripts/quarter_label.py", data: Buffer.from("def label(quarter):\n    return f'Q{quarter}'\n") },
      ],
      requirements: [],
    };
    let asked = 0;
    const given = (skills: SessionSkill[]) => async () => { asked += 1; return skills; };
    const session = await sandbox.acquire("skills:live", { skills: given([fiscal]), skillsVersion: "1" });
    try {
      assert.equal((await session.run("from skills.fiscal_calendar import quarter_of\nquarter_of(12)")).value, "4");
      const missing = await session.run("import skills.quarter_label");
      assert.equal(missing.error?.name, "ModuleNotFoundError");
      session.idle();

      // The same set: nothing is written again.
      (await sandbox.acquire("skills:live", { skills: given([fiscal]), skillsVersion: "1" })).idle();
      assert.equal(asked, 1);

      // A skill approved since: the same Python process imports it, its state kept.
      // Acquiring does not wait for the writing; the next cell does.
      const grown = await sandbox.acquire("skills:live", { skills: given([fiscal, quarters]), skillsVersion: "1,2" });
      assert.equal(grown, session);
      const both = await session.run("from skills.quarter_label import label\nlabel(quarter_of(12))");
      assert.equal(both.error, null, both.error?.traceback);
      assert.equal(both.value, "'Q4'");
      assert.equal(asked, 2);
      session.idle();

      // A skill removed since: its folder is gone, and /skills is still not writable.
      (await sandbox.acquire("skills:live", { skills: given([quarters]), skillsVersion: "2" })).idle();
      const listed = await session.run("import os; sorted(name for name in os.listdir('/skills') if not name.startswith('.'))");
      assert.equal(listed.value, "['quarters']");
      const write = await session.run("open('/skills/quarters/SKILL.md', 'a').write('x')");
      assert.match(String(write.error?.name), /PermissionError|OSError/);
    } finally {
      await sandbox.release("skills:live");
    }
  });

  it("skills that cannot be given fail the next cell plainly, and the next acquire gives them again", async () => {
    const session = await sandbox.acquire("skills:failing", { skills: async () => { throw new Error("the store is unreadable"); }, skillsVersion: "7" });
    try {
      const failed = await session.run("1 + 1").then(() => null, (error: unknown) => error);
      assert.ok(failed instanceof SandboxError, `expected a SandboxError, got ${String(failed)}`);
      assert.equal(failed.retryable, true);
      assert.match(failed.message, /skills could not be put in place/);
      session.idle();
      // The same set again: not held, so written now.
      const again = await sandbox.acquire("skills:failing", { skills: async () => [fiscal], skillsVersion: "7" });
      const imported = await again.run("from skills.fiscal_calendar import quarter_of\nquarter_of(1)");
      assert.equal(imported.error, null, imported.error?.traceback);
      assert.equal(imported.value, "1");
    } finally {
      await sandbox.release("skills:failing");
    }
  });

  it("a session given no skills has an empty /skills and no skills package", async () => {
    const session = await sandbox.acquire("skills:none");
    try {
      const listed = await session.run("import os; sorted(name for name in os.listdir('/skills') if not name.startswith('.'))");
      assert.equal(listed.value, "[]");
      const imported = await session.run("from skills.fiscal_calendar import quarter_of");
      assert.equal(imported.error?.name, "ModuleNotFoundError");
    } finally {
      await sandbox.release("skills:none");
    }
  });
});
