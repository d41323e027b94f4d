/** Skills in a real Docker session: under /skills, importable as skills.<stem>, readable and not writable by the code. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
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
