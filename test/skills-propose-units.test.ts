/**
 * Proposal calls in the core's pure parts: the history budget, the
 * transcript's open calls, the instructions about a skill's packages, and a
 * proposal's requirements (with a store, and a compile check that passes
 * everything). No Docker, no model.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { carryOutProposal } from "../src/core/propose-call.ts";
import { systemPrompt } from "../src/core/prompt.ts";
import { silentLogger } from "../src/log.ts";
import { requirementsOf } from "../src/skills/front-matter.ts";
import { SkillLibrary } from "../src/skills/skill-library.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { totalChars, trimHistory } from "../src/core/history.ts";
import type { TranscriptItem } from "../src/core/model/model-client.ts";
import { TurnTranscript } from "../src/core/turn-transcript.ts";

const proposalArguments = JSON.stringify({ name: "fiscal-calendar", description: "d", instructions: "i".repeat(3_000), files: [] });

function proposingTurn(index: number): TranscriptItem[] {
  return [
    { type: "user", text: `keep it ${index}` },
    { type: "proposal", callId: `p${index}`, arguments: proposalArguments },
    { type: "result", callId: `p${index}`, output: "Stored the skill fiscal-calendar as a proposal." },
    { type: "assistant", text: `proposed ${index}` },
  ];
}

test("history: a proposal's arguments count towards the budget, are never cut (they would stop being JSON), and go with the old turn's cells", () => {
  const items = [...proposingTurn(1), ...proposingTurn(2)];
  assert.ok(Number.isFinite(totalChars(items)) && totalChars(items) > 2 * proposalArguments.length);
  assert.equal(trimHistory(items, 100_000), items);

  const trimmed = trimHistory(items, totalChars(items) - 100);
  for (const item of trimmed) if (item.type === "proposal") assert.equal(item.arguments, proposalArguments);
  assert.deepEqual(trimmed.slice(0, 2).map((item) => item.type), ["user", "assistant"], "the oldest turn lost its proposal and its result together");
  assert.deepEqual(trimmed.slice(2).map((item) => item.type), ["user", "proposal", "result", "assistant"]);
});

test("transcript: a proposal call left without a result gets one, as a code call does", () => {
  const transcript = new TurnTranscript();
  transcript.push({ type: "user", text: "keep it" }, { type: "code", callId: "c1", code: "1" }, { type: "proposal", callId: "p1", arguments: "{}" });
  transcript.closeOpenCalls("Not run: the turn was stopped by Ada.");
  assert.deepEqual(
    transcript.items.filter((item) => item.type === "result").map((item) => item.callId),
    ["c1", "p1"],
  );
});

test("instructions: a skill's packages are installed on its import with a door out, and said to be unavailable without one", () => {
  const facts = { pythonVersion: "3.11.2", cellTimeoutMs: 60_000, libraries: ["pandas"], skills: [{ name: "tb-greeting", description: "Greets." }] };
  assert.match(systemPrompt({ ...facts, network: ["pypi.org"] }), /metadata\.requirements has them installed for this session the first time you import it; if that fails, the import's error says why\./);
  assert.match(systemPrompt(facts), /metadata\.requirements needs them, and they cannot be installed here: without them its import fails saying so\./);
  assert.doesNotMatch(systemPrompt({ ...facts, skills: [] }), /metadata\.requirements/);
});

test("a proposal's requirements go into SKILL.md's metadata; a bad one is refused to the model naming the rule, and nothing is stored", async () => {
  const directory = mkdtempSync(join(tmpdir(), "tb-propose-requirements-"));
  const store = openSqliteStore(directory, { recoverInterruptedTurns: false });
  try {
    const library = new SkillLibrary(store.skills, async () => null);
    const context = { scope: "global", by: "cli:ada", conversationKey: "cli:1", autoApprove: false };
    const call = (requirements: unknown) => ({
      type: "proposal" as const, callId: "p1",
      arguments: JSON.stringify({ name: "tb-greeting", description: "Greets.", instructions: "Use greet.", files: [{ path: "scripts/tb_greeting.py", content: "import tbdemo\n" }], requirements }),
    });
    const refused = await carryOutProposal(call(["tbdemo", "--index-url=https://evil.example"]), library, context, silentLogger);
    assert.equal(refused.outcome, "refused");
    assert.match(refused.output, /^The skill was not stored: The requirement "--index-url=https:\/\/evil\.example" is not valid: .*\(rule: requirements\)\. Fix it and call propose_skill again\.$/);
    assert.deepEqual(await store.skills.listSkills(), []);
    const stored = await carryOutProposal(call(["tbdemo>=1.0"]), library, context, silentLogger);
    assert.equal(stored.outcome, "proposed");
    const files = await store.skills.skillFiles(stored.skill?.id ?? -1);
    assert.deepEqual(requirementsOf(files), ["tbdemo>=1.0"]);
    const withoutField = await carryOutProposal(call(undefined), library, context, silentLogger);
    assert.deepEqual(requirementsOf(await store.skills.skillFiles(withoutField.skill?.id ?? -1)), []);
  } finally {
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
