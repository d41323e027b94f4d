/**
 * Proposals and decisions in the skill library: a real SQLite store, and
 * Python compiled in a real container of the sandbox image.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../src/config.ts";
import { skillCompileCheck } from "../src/docker-sandbox-options.ts";
import { SkillError } from "../src/errors.ts";
import { parseManifest } from "../src/skills/front-matter.ts";
import { visibleSkills } from "../src/skills/session-skills.ts";
import type { ProposalContext, SkillProposal } from "../src/skills/skill-proposer.ts";
import { SkillLibrary } from "../src/skills/skill-library.ts";
import { SkillReview } from "../src/skills/skill-review.ts";
import { openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import { removeInstance, testInstance } from "./support/sandbox.ts";

const instance = testInstance();
const dataDir = mkdtempSync(join(tmpdir(), "threadbook-skill-review-"));
let store: SqliteStore;
let library: SkillLibrary;
let review: SkillReview;

const team = "slack:T0REVIEW";
const context: ProposalContext = { scope: team, by: "slack:U0ASKER", conversationKey: "slack:T0REVIEW:C1:1.0", autoApprove: false };

function proposal(name: string, stem = name.replaceAll("-", "_"), source = "def run(value):\n    return value * 2\n"): SkillProposal {
  return {
    name,
    description: `Doubles numbers for ${name}: use it when a value needs doubling.`,
    instructions: `# ${name}\n\nCall \`run(value)\` from \`skills.${stem}\`.`,
    files: [{ path: `scripts/${stem}.py`, content: source }],
  };
}

async function refusal(work: Promise<unknown>): Promise<SkillError> {
  const error = await work.then(() => null, (caught: unknown) => caught);
  assert.ok(error instanceof SkillError, `expected a SkillError, got ${String(error)}`);
  return error;
}

describe("proposing and deciding on skills", () => {
  before(() => {
    store = openSqliteStore(dataDir);
    const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_INSTANCE: instance, ...(process.env["DOCKER_HOST"] ? { DOCKER_HOST: process.env["DOCKER_HOST"] } : {}) });
    library = new SkillLibrary(store.skills, skillCompileCheck(config));
    review = new SkillReview(library, ["slack:U0BOSS", "discord:42"]);
  });
  after(async () => {
    await store?.close();
    await removeInstance(instance);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("stores a proposal as proposed, with who, where and when, and a SKILL.md built from its fields", async () => {
    const before = Date.now();
    const record = await library.propose(proposal("doubler"), context);
    assert.equal(record.status, "proposed");
    assert.equal(record.scope, team);
    assert.equal(record.version, 1);
    assert.equal(record.proposedBy, "slack:U0ASKER");
    assert.equal(record.conversationKey, context.conversationKey);
    assert.ok(record.proposedAt >= before && record.proposedAt <= Date.now());
    assert.deepEqual(record.stems, ["doubler"]);
    const { files } = await review.view(record.id);
    assert.deepEqual(files.map((file) => file.path), ["SKILL.md", "scripts/doubler.py"]);
    const parsed = parseManifest((files[0]?.data ?? Buffer.alloc(0)).toString("utf8"));
    assert.equal(parsed.manifest.name, "doubler");
    assert.equal(parsed.manifest.description, proposal("doubler").description);
    assert.equal(parsed.instructions.trim(), proposal("doubler").instructions);
    // Not usable before approval.
    assert.deepEqual((await visibleSkills(store.skills, team)).map((skill) => skill.name), []);
  });

  it("refuses a bad proposal with the rule it breaks, storing nothing", async () => {
    const cases: [SkillProposal, RegExp][] = [
      [{ ...proposal("doubler"), name: "Bad_Name" }, /rule: name/],
      [{ ...proposal("manifest-given"), files: [{ path: "SKILL.md", content: "---\nname: x\n---\n" }] }, /rule: manifest/],
      [{ ...proposal("escaping"), files: [{ path: "../outside.py", content: "x = 1\n" }] }, /rule: path/],
      [proposal("broken", "broken", "def run(:\n"), /scripts\/broken\.py does not compile.*rule: python/],
      [{ ...proposal("wordy"), description: "x".repeat(1025) }, /rule: description/],
    ];
    const stored = (await store.skills.listSkills()).length;
    for (const [bad, rule] of cases) {
      const error = await refusal(library.propose(bad, context));
      assert.equal(error.code, "skill_invalid");
      assert.match(error.message, rule);
    }
    assert.equal((await store.skills.listSkills()).length, stored);
  });

  it("lets only approvers decide, each version once, saying who decided first", async () => {
    const [proposed] = await store.skills.listSkills({ name: "doubler" });
    assert.ok(proposed !== undefined);
    const outsider = await refusal(review.decide(proposed.id, "approved", "slack:U0ASKER"));
    assert.equal(outsider.code, "skill_not_allowed");
    assert.equal((await store.skills.skill(proposed.id))?.status, "proposed");

    const approved = await review.decide(proposed.id, "approved", "slack:U0BOSS");
    assert.equal(approved.status, "approved");
    assert.equal(approved.decidedBy, "slack:U0BOSS");
    assert.deepEqual((await visibleSkills(store.skills, team)).map((skill) => skill.name), ["doubler"]);

    const again = await refusal(review.decide(proposed.id, "rejected", "discord:42"));
    assert.equal(again.code, "skill_decided");
    assert.match(again.message, /Version 1 of the skill `doubler` was already approved by slack:U0BOSS/);
    assert.equal((await store.skills.skill(proposed.id))?.status, "approved");

    const second = await library.propose(proposal("doubler"), context);
    assert.equal(second.version, 2);
    const rejected = await review.decide(second.id, "rejected", "discord:42");
    assert.equal(rejected.status, "rejected");
    // The rejected version is not what the workspace sees; the approved one stays.
    assert.deepEqual((await visibleSkills(store.skills, team)).map((skill) => [skill.name, skill.version]), [["doubler", 1]]);
  });

  it("approves only one of two proposals defining one module, however close the clicks", async () => {
    const first = await library.propose(proposal("tripler-a", "tripler"), context);
    const second = await library.propose(proposal("tripler-b", "tripler"), context);
    const outcomes = await Promise.allSettled([review.decide(first.id, "approved", "slack:U0BOSS"), review.decide(second.id, "approved", "discord:42")]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status).sort(), ["fulfilled", "rejected"]);
    const refused = outcomes.find((outcome) => outcome.status === "rejected");
    assert.match(String((refused as PromiseRejectedResult).reason.message), /skills\.tripler is already defined.*rule: stem/);
    // A proposal that clashes with an approved skill is refused at once, so the model can rename it.
    const late = await refusal(library.propose(proposal("tripler-c", "tripler"), context));
    assert.match(late.message, /rule: stem/);
  });

  it("approves at once when told to, and an unknown version is said plainly", async () => {
    const record = await library.propose(proposal("halver"), { ...context, autoApprove: true });
    assert.equal(record.status, "approved");
    assert.equal(record.decidedBy, "slack:U0ASKER");
    assert.ok((await visibleSkills(store.skills, team)).some((skill) => skill.name === "halver"));
    const other = await visibleSkills(store.skills, "slack:T0OTHER");
    assert.ok(!other.some((skill) => skill.name === "halver"), "another workspace never sees it");

    const missing = await refusal(review.view(987_654));
    assert.equal(missing.code, "skill_not_found");
    const gone = await refusal(review.decide(987_654, "approved", "slack:U0BOSS"));
    assert.equal(gone.code, "skill_not_found");
  });
});
