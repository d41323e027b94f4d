/**
 * `threadbook skills …` through the real CLI process: a real SQLite store,
 * and Python compiled in a real container of the sandbox image.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { manifestText, requirementsOf } from "../src/skills/front-matter.ts";
import { validateSkill } from "../src/skills/validate-skill.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { instanceContainers, removeInstance, testInstance } from "./support/sandbox.ts";

const repository = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = mkdtempSync(join(tmpdir(), "threadbook-skills-"));
const dataDir = join(root, "data");
const instance = testInstance();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function threadbook(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repository, "src", "main.ts"), "skills", ...args],
      {
        cwd: repository,
        env: {
          PATH: process.env["PATH"] ?? "",
          HOME: process.env["HOME"] ?? root,
          THREADBOOK_DATA_DIR: dataDir,
          THREADBOOK_INSTANCE: instance,
          ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}),
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number((error as { code?: number }).code), stdout, stderr }),
    );
  });
}

let folderCount = 0;
/** Writes a skill folder named `name` with `files` (path → text or bytes); SKILL.md made from name and description unless given. */
function skillFolder(name: string, files: Record<string, string | Buffer> = {}, description = `Helps with ${name}.`): string {
  folderCount += 1;
  const folder = join(root, `source-${folderCount}`, name);
  const all: Record<string, string | Buffer> = { "SKILL.md": `---\nname: ${name}\ndescription: ${description}\n---\n# ${name}\n\nCall the functions in scripts/.\n`, ...files };
  for (const [path, data] of Object.entries(all)) {
    mkdirSync(dirname(join(folder, path)), { recursive: true });
    writeFileSync(join(folder, path), data);
  }
  return folder;
}

function tree(folder: string): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else found[relative(folder, path)] = readFileSync(path).toString("base64");
    }
  };
  walk(folder);
  return found;
}

async function listed(): Promise<Array<Record<string, unknown>>> {
  const run = await threadbook(["list", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.trim() === "" ? [] : run.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("threadbook skills", () => {
  before(() => mkdirSync(dataDir, { recursive: true }));
  after(async () => {
    await removeInstance(instance);
    rmSync(root, { recursive: true, force: true });
  });

  it("imports a skill folder as approved and exports it unchanged, keeping every version", async () => {
    const source = skillFolder("fiscal-calendar", {
      "scripts/fiscal_calendar.py": "def quarter_of(month):\n    return (month - 1) // 3 + 1\n",
      "references/notes.md": "Fiscal year starts in February.\n",
      "assets/logo.bin": Buffer.from([0, 1, 2, 255, 254]),
    });
    const imported = await threadbook(["import", source]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /Imported fiscal-calendar \(global, version 1\), approved/);

    const out = join(root, "export-1");
    mkdirSync(out);
    const exported = await threadbook(["export", "fiscal-calendar", out]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual(tree(join(out, "fiscal-calendar")), tree(source));

    // A workspace sees the global skills: the same name there would be two /skills/<name>/, the same module ambiguous.
    const again = await threadbook(["import", source, "--scope", "slack:T0123"]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /taken by an approved skill in global.*rule: name/);
    const sameModule = skillFolder("quarters", { "scripts/fiscal_calendar.py": "def quarter_of(month):\n    return 1\n" });
    const clash = await threadbook(["import", sameModule, "--scope", "slack:T0123"]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /skills\.fiscal_calendar is already defined by the skill "fiscal-calendar".*rule: stem/);
    const second = await threadbook(["import", source]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /version 2/);
    const records = (await listed()).filter((record) => record.name === "fiscal-calendar");
    assert.deepEqual(
      records.map((record) => [record.scope, record.version, record.status, record.description]),
      [
        ["global", 1, "approved", "Helps with fiscal-calendar."],
        ["global", 2, "approved", "Helps with fiscal-calendar."],
      ],
    );
    assert.match(String(records[0]?.proposedBy), /^cli:/);

    // Two workspaces never see each other's skills, so each may have its own of one name.
    const notes = skillFolder("team-notes", { "references/only.md": "No scripts here.\n" });
    assert.equal((await threadbook(["import", notes, "--scope", "slack:T0123"])).code, 0);
    assert.equal((await threadbook(["import", notes, "--scope", "discord:42"])).code, 0);
    const ambiguous = await threadbook(["show", "team-notes"]);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /several scopes.*--scope/);
    const shown = await threadbook(["show", "fiscal-calendar"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /v1 {2}approved[\s\S]*v2 {2}approved[\s\S]*def quarter_of/);

    const removed = await threadbook(["remove", "team-notes", "--scope", "slack:T0123"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((await listed()).filter((record) => record.name === "team-notes").map((record) => record.scope), ["discord:42"]);
  });

  it("refuses each bad input with the rule it breaks, leaving nothing stored", async () => {
    const manyFiles: Record<string, string> = {};
    for (let index = 0; index < 100; index += 1) manyFiles[`references/note-${index}.md`] = "x\n";
    const symlinked = skillFolder("linked", { "scripts/linked.py": "X = 1\n" });
    symlinkSync("/etc/passwd", join(symlinked, "references-passwd"));
    const cases: Array<[string, string, RegExp]> = [
      ["name", skillFolder("Bad_Name"), /rule: name/],
      ["hyphen at the end", skillFolder("trailing-"), /rule: name/],
      ["folder mismatch", (() => {
        const folder = skillFolder("right-name");
        writeFileSync(join(folder, "SKILL.md"), "---\nname: other-name\ndescription: Mismatch.\n---\n");
        return folder;
      })(), /rule: folder/],
      ["front matter not YAML", (() => {
        const folder = skillFolder("broken-yaml");
        writeFileSync(join(folder, "SKILL.md"), "---\nname: broken-yaml\ndescription: [unclosed\n---\n");
        return folder;
      })(), /not valid YAML.*rule: front-matter/],
      ["over 1 MB", skillFolder("too-big", { "assets/big.bin": Buffer.alloc(1024 * 1024 + 1) }), /over 1 MB.*rule: size/],
      ["over 100 files", skillFolder("too-many", manyFiles), /more than 100 files.*rule: size/],
      ["a symlink", symlinked, /symlink.*rule: symlink/],
      ["Python that does not compile", skillFolder("broken-python", { "scripts/broken.py": "def broken(:\n    pass\n" }), /scripts\/broken\.py does not compile \(line 1\).*rule: python/],
      ["description too long", skillFolder("long-description", {}, "x".repeat(1025)), /rule: description/],
      ["a requirement that is a URL", (() => {
        const folder = skillFolder("url-requirement");
        writeFileSync(join(folder, "SKILL.md"), "---\nname: url-requirement\ndescription: Needs a URL.\nmetadata:\n  requirements: [\"tbdemo @ https://example.com/tbdemo.whl\"]\n---\n");
        return folder;
      })(), /The requirement "tbdemo @ https:\/\/example\.com\/tbdemo\.whl" is not valid.*rule: requirements/],
    ];
    const before = await listed();
    for (const [label, folder, message] of cases) {
      const run = await threadbook(["import", folder]);
      assert.equal(run.code, 2, `${label}: ${run.stderr}`);
      assert.match(run.stderr, message, label);
      assert.equal(run.stderr.trim().split("\n").length, 1, `${label}: one line`);
    }
    assert.deepEqual(await listed(), before);
    assert.equal((await instanceContainers(instance)).length, 0, "no compile container is left");
  });

  it("reads metadata.requirements: names with extras and version specifiers; refuses options, URLs, markers, duplicates and long lists", () => {
    const skill = (requirements: string) => [
      { path: "SKILL.md", data: Buffer.from(`---\nname: needs\ndescription: Needs packages.\nmetadata:\n  requirements: ${requirements}\n---\n`) },
    ];
    const valid = ["tbdemo", "pandas-stubs>=2.0,<3", "requests[socks,security]==2.31.0", "zope.interface~=6.0", "Foo_Bar!=1.0.post1"];
    assert.deepEqual(validateSkill(skill(JSON.stringify(valid)), "needs").manifest.requirements, valid);
    assert.deepEqual(validateSkill(skill("[]"), "needs").manifest.requirements, []);
    const plain = [{ path: "SKILL.md", data: Buffer.from("---\nname: needs\ndescription: Needs nothing.\n---\n") }];
    assert.deepEqual(validateSkill(plain, "needs").manifest.requirements, []);
    for (const bad of ["--index-url=https://evil.example", "-e .", "tbdemo @ https://example.com/x.whl", "tbdemo; python_version<'3.9'", "tbdemo >=1.0", "./local", "git+https://x/y", "", `a${"b".repeat(100)}`]) {
      assert.throws(() => validateSkill(skill(JSON.stringify([bad])), "needs"), /is not valid: a package name.*rule: requirements/, bad);
    }
    assert.throws(() => validateSkill(skill("tbdemo"), "needs"), /must be a list of package requirements.*rule: requirements/);
    assert.throws(() => validateSkill(skill("[7]"), "needs"), /The requirement 7 is not valid.*rule: requirements/);
    assert.throws(() => validateSkill(skill(JSON.stringify(["Zope.Interface", "zope-interface>=6"])), "needs"), /"zope-interface" is listed twice.*rule: requirements/);
    const many = Array.from({ length: 21 }, (_, index) => `package${index}`);
    assert.throws(() => validateSkill(skill(JSON.stringify(many)), "needs"), /lists 21 packages; at most 20 are allowed.*rule: requirements/);
    assert.deepEqual(validateSkill(skill(JSON.stringify(many.slice(0, 20))), "needs").manifest.requirements.length, 20);
  });

  it("writes requirements into SKILL.md for a proposal and reads them back from a stored skill; a stored skill older than the check installs nothing", () => {
    const text = manifestText({ name: "needs", description: "Needs tbdemo.", requirements: ["tbdemo>=1.0"] }, "Use it.");
    assert.equal(text, "---\nname: needs\ndescription: Needs tbdemo.\nmetadata:\n  requirements:\n    - tbdemo>=1.0\n---\n\nUse it.\n");
    assert.deepEqual(requirementsOf([{ path: "SKILL.md", data: Buffer.from(text) }]), ["tbdemo>=1.0"]);
    assert.equal(manifestText({ name: "plain", description: "Plain." }, ""), "---\nname: plain\ndescription: Plain.\n---\n");
    const older = "---\nname: older\ndescription: Stored before.\nmetadata:\n  requirements: --index-url=https://evil.example\n---\n";
    assert.deepEqual(requirementsOf([{ path: "SKILL.md", data: Buffer.from(older) }]), []);
  });

  it("refuses a path leaving the folder", () => {
    const manifest = { path: "SKILL.md", data: Buffer.from("---\nname: escape\ndescription: Escapes.\n---\n") };
    assert.throws(() => validateSkill([manifest, { path: "../outside.py", data: Buffer.from("X = 1\n") }], "escape"), /rule: path/);
    assert.throws(() => validateSkill([manifest, { path: "/etc/passwd", data: Buffer.from("") }], "escape"), /rule: path/);
  });

  it("refuses a stem another skill of the scope defines, and a folder of skills only whole", async () => {
    const first = skillFolder("csv-cleaner", { "scripts/cleaning.py": "def clean(frame):\n    return frame\n" });
    assert.equal((await threadbook(["import", first, "--scope", "discord:42"])).code, 0);
    const before = await listed();

    const clash = skillFolder("other-cleaner", { "scripts/cleaning.py": "def clean(frame):\n    return frame\n" });
    const refused = await threadbook(["import", clash, "--scope", "discord:42"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /skills\.cleaning is already defined by the skill "csv-cleaner".*rule: stem/);

    // A folder of skill folders: the good one is not stored when the other is refused.
    const parent = join(root, "agents-skills");
    mkdirSync(parent);
    const good = skillFolder("good-one", { "scripts/good_one.py": "A = 1\n" });
    const bad = skillFolder("bad-one", { "scripts/bad_one.py": "def (:\n" });
    for (const folder of [good, bad]) for (const [path, data] of Object.entries(tree(folder))) {
      const target = join(parent, folder.split("/").at(-1) as string, path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, Buffer.from(data, "base64"));
    }
    const partial = await threadbook(["import", parent]);
    assert.equal(partial.code, 2);
    assert.match(partial.stderr, /bad_one\.py does not compile/);
    assert.deepEqual(await listed(), before);

    // Another workspace is another scope: no clash.
    assert.equal((await threadbook(["import", clash, "--scope", "discord:43"])).code, 0);
  });

  it("approves and rejects proposals, refusing an approval whose stem clashes", async () => {
    const store = openSqliteStore(dataDir, { recoverInterruptedTurns: false });
    const propose = (name: string, stem: string) =>
      store.skills.addSkillVersion({
        scope: "slack:T9",
        name,
        description: `Proposed ${name}.`,
        stems: [stem],
        files: [{ path: "SKILL.md", data: Buffer.from(`---\nname: ${name}\ndescription: Proposed ${name}.\n---\n`) }, { path: `scripts/${stem}.py`, data: Buffer.from("Y = 2\n") }],
        status: "proposed",
        proposedBy: "slack:U1",
        conversationKey: "slack:T9:C1:1.1",
      });
    await propose("quarter-helper", "quarters");
    await propose("second-quarters", "quarters");
    await propose("unwanted", "unwanted");
    await store.close();

    const approved = await threadbook(["approve", "quarter-helper"]);
    assert.equal(approved.code, 0, approved.stderr);
    const clash = await threadbook(["approve", "second-quarters"]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /skills\.quarters is already defined by the skill "quarter-helper".*rule: stem/);
    const rejected = await threadbook(["reject", "unwanted"]);
    assert.equal(rejected.code, 0, rejected.stderr);
    const again = await threadbook(["approve", "unwanted"]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no version waiting for approval/);

    const records = (await listed()).filter((record) => record.scope === "slack:T9");
    assert.deepEqual(
      records.map((record) => [record.name, record.status, record.proposedBy, record.decidedBy === null ? null : String(record.decidedBy).startsWith("cli:")]),
      [
        ["quarter-helper", "approved", "slack:U1", true],
        ["second-quarters", "proposed", "slack:U1", null],
        ["unwanted", "rejected", "slack:U1", true],
      ],
    );
  });

  it("says what is wrong with a command line in one line, exit 2", async () => {
    for (const args of [["frobnicate"], ["show"], ["list", "--json", "extra"], ["import", "/nonexistent-skill-folder"], ["show", "no-such-skill"], ["import", "/tmp", "--scope", "team:1"]]) {
      const run = await threadbook(args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    }
  });
});

