/**
 * A skill proposal as Discord shows it for review, checked against the rules
 * the Discord emulator enforces (discord-message-rules.ts): within the text
 * and component limits whatever the skill holds, buttons carrying the
 * version id, and a strict reading of what a click carries back.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSkillButtonId, skillButtonId } from "../src/adapters/discord/skill-button-id.ts";
import { skillReviewMessage, type SkillView } from "../src/adapters/discord/skill-review-message.ts";
import type { SkillRecord } from "../src/store/skill-store.ts";
import { messageProblems, textDisplays } from "./emulators/discord-message-rules.ts";

function view(fields: Partial<SkillRecord> = {}, scripts: Record<string, string> = { "scripts/fiscal.py": "def quarter_of(month):\n    return (month - 2) % 12 // 3 + 1\n" }): SkillView {
  const record: SkillRecord = {
    id: 42, scope: "discord:900000000000000001", name: "fiscal-quarters", version: 1, status: "proposed",
    description: "Fiscal quarter of a month, for a February-start year.", stems: ["fiscal"], proposedBy: "discord:100000000000000001",
    proposedAt: 0, conversationKey: "discord:1:2", decidedBy: null, decidedAt: null, ...fields,
  };
  const files = [{ path: "SKILL.md", data: Buffer.from("---\nname: x\n---\n") }, ...Object.entries(scripts).map(([path, code]) => ({ path, data: Buffer.from(code) }))];
  return { record, files };
}

/** The message as discord.js sends it (payload fields), checked by the emulator's rules. */
function problemsOf(message: ReturnType<typeof skillReviewMessage>): string[] {
  return messageProblems({ flags: message.flags, components: message.components, allowed_mentions: { parse: message.allowedMentions.parse, users: message.allowedMentions.users } }, [], 10 * 1024 * 1024);
}

function buttonsOf(message: ReturnType<typeof skillReviewMessage>): { label: string; style: number; custom_id: string }[] {
  return JSON.parse(JSON.stringify(message.components)).flatMap((container: any) => container.components.filter((child: any) => child.type === 1).flatMap((row: any) => row.components));
}

describe("the review message", () => {
  test("a proposal shows its name, version, scope, description and code, mentions the Discord approvers only, and has Approve and Reject", () => {
    const message = skillReviewMessage(view(), ["456", "789"]);
    assert.deepEqual(problemsOf(message), []);
    const text = textDisplays(message.components).join("\n");
    assert.match(text, /\*\*Skill proposed: `fiscal-quarters`\*\* · version 1 · scope `discord:900000000000000001`/);
    assert.match(text, /> Fiscal quarter of a month, for a February-start year\./);
    assert.ok(text.includes("`scripts/fiscal.py`\n```python\ndef quarter_of(month):\n    return (month - 2) % 12 // 3 + 1\n```"), text);
    assert.ok(text.includes("`SKILL.md`\n```markdown\n---\nname: x\n---\n```"), "SKILL.md is shown too");
    assert.match(text, /Waiting for approval by <@456>, <@789>\./);
    assert.deepEqual(message.allowedMentions, { parse: [], users: ["456", "789"] });
    assert.deepEqual(buttonsOf(message).map((button) => [button.label, button.style, button.custom_id]), [["Approve", 3, "skill:approve:42"], ["Reject", 4, "skill:reject:42"]]);
  });

  test("a proposal declaring packages lists them under its description, and stays within the limits however many", () => {
    const declaring = (requirements: string[]) => {
      const base = view();
      const manifest = `---\nname: fiscal-quarters\ndescription: Quarters.\nmetadata:\n  requirements: ${JSON.stringify(requirements)}\n---\n`;
      return { record: base.record, files: [{ path: "SKILL.md", data: Buffer.from(manifest) }, ...base.files.slice(1)] };
    };
    const message = skillReviewMessage(declaring(["tbdemo>=1.0"]), ["456"]);
    assert.deepEqual(problemsOf(message), []);
    assert.match(textDisplays(message.components).join("\n"), /February-start year\.\n\*\*Installs packages\*\* \(from the package index, in sessions with a door out\): `tbdemo>=1\.0`/);
    const many = skillReviewMessage(declaring(Array.from({ length: 20 }, (_, index) => `package-${index}-${"x".repeat(80)}`)), ["456"]);
    assert.deepEqual(problemsOf(many), []);
    assert.match(textDisplays(many.components).join("\n"), /and \d+ more \(see SKILL\.md\)/);
    assert.doesNotMatch(textDisplays(skillReviewMessage(view(), ["456"]).components).join("\n"), /Installs packages/);
  });

  test("with no approver on Discord: no buttons, and the command to approve it", () => {
    const message = skillReviewMessage(view(), []);
    assert.deepEqual(buttonsOf(message), []);
    assert.match(textDisplays(message.components).join("\n"), /approve it with `threadbook skills approve fiscal-quarters` \(or set THREADBOOK_SKILL_APPROVERS\)/);
    assert.deepEqual(message.allowedMentions.users, []);
  });

  test("decided: the outcome instead of the buttons, naming who decided without a ping", () => {
    const approved = skillReviewMessage(view({ status: "approved", decidedBy: "discord:456", decidedAt: 1 }), ["456"]);
    assert.deepEqual(buttonsOf(approved), []);
    assert.match(textDisplays(approved.components).join("\n"), /Approved by <@456> · new conversations in this server can use it\./);
    assert.deepEqual(approved.allowedMentions.users, []);
    const global = skillReviewMessage(view({ status: "approved", scope: "global", decidedBy: "cli:ada", decidedAt: 1 }), ["456"]);
    assert.match(textDisplays(global.components).join("\n"), /Approved by `cli:ada` · new conversations everywhere can use it\./);
    const rejected = skillReviewMessage(view({ status: "rejected", decidedBy: "discord:456", decidedAt: 1 }), ["456"]);
    assert.match(textDisplays(rejected.components).join("\n"), /Rejected by <@456>\./);
    assert.deepEqual(buttonsOf(rejected), []);
  });

  test("code too long for one message is cut at a line with a note naming the full skill; the limits hold for any skill", () => {
    const longLine = "x = " + "1 + ".repeat(3_000) + "1";
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`scripts/part_${index}.py`, Array.from({ length: 40 }, (_, line) => `value_${line} = ${line}  # ${"```".repeat(3)}`).join("\n")]));
    const cases: SkillView[] = [
      view({}, many),
      view({}, { "scripts/one_line.py": longLine }),
      view({ description: "@everyone\n".repeat(100) + "d".repeat(20) }, many),
    ];
    const approvers = Array.from({ length: 150 }, (_, index) => String(100000000000000000n + BigInt(index)));
    for (const candidate of cases) {
      const message = skillReviewMessage(candidate, approvers);
      assert.deepEqual(problemsOf(message), []);
      const text = textDisplays(message.components).join("");
      assert.ok(text.length <= 4_000, `${text.length} characters`);
      assert.match(text, /Some files are cut here\. Full skill: `threadbook skills show fiscal-quarters --scope discord:900000000000000001`/);
      assert.equal((text.match(/```/g) ?? []).length % 2, 0, "every code block is closed");
      assert.ok(message.allowedMentions.users.length <= 10, "a ping for the approvers named, not all 150");
    }
    const cut = textDisplays(skillReviewMessage(cases[0]!, ["456"]).components).join("\n");
    assert.ok(cut.includes("`scripts/part_0.py`\n```python\nvalue_0 = 0"), "the first script is shown from its start");
    assert.ok(cut.includes("`scripts/part_29.py`\n```python\nvalue_0 = 0"), "every script is shown, each from its start");
    assert.match(cut, /-# \d+ more lines not shown/);
    const hundred = Object.fromEntries(Array.from({ length: 99 }, (_, index) => [`references/note_${String(index).padStart(2, "0")}.md`, `note ${index}\n`.repeat(20)]));
    const counted = skillReviewMessage(view({}, hundred), ["456"]);
    assert.deepEqual(problemsOf(counted), []);
    const countedText = textDisplays(counted.components).join("");
    assert.ok(countedText.length <= 4_000, `${countedText.length} characters`);
    assert.match(countedText, /\d+ more files not shown\. Some files are cut here/);
  });
});

describe("every file of a proposal", () => {
  test("SKILL.md's body, references, assets and scripts are all shown, a binary asset by its size, a long one cut without hiding the others", () => {
    const files = [
      { path: "SKILL.md", data: Buffer.from("---\nname: fiscal-quarters\ndescription: x\n---\nAlways send results to the proposer first.\n") },
      { path: "references/customers.csv", data: Buffer.from("name,email\nAda,ada@example.com\n") },
      { path: "references/long.md", data: Buffer.from("line of a long reference\n".repeat(2_000)) },
      { path: "assets/logo.png", data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]) },
      { path: "scripts/fiscal.py", data: Buffer.from("def quarter_of(month):\n    return 1\n") },
    ];
    const base = view();
    const message = skillReviewMessage({ record: base.record, files }, ["456"]);
    assert.deepEqual(problemsOf(message), []);
    const text = textDisplays(message.components).join("\n");
    assert.ok(text.length <= 4_000);
    assert.match(text, /Always send results to the proposer first\./);
    assert.match(text, /Ada,ada@example\.com/);
    assert.match(text, /`assets\/logo\.png` · 6 B, not text, not shown/);
    assert.match(text, /def quarter_of/);
    assert.match(text, /`references\/long\.md`\n```markdown\nline of a long reference/);
    assert.match(text, /-# \d+ more lines not shown/);
    assert.match(text, /Some files are cut here\. Full skill: `threadbook skills show fiscal-quarters --scope discord:900000000000000001`/);
  });

  test("approved in a direct message's scope, it says only its author's direct messages can use it", () => {
    const message = skillReviewMessage(view({ scope: "discord:user:100000000000000001", status: "approved", decidedBy: "discord:456", decidedAt: 1 }), ["456"]);
    assert.match(textDisplays(message.components).join("\n"), /new conversations in <@100000000000000001>'s direct messages with threadbook can use it\./);
  });
});

describe("the button's custom id", () => {
  test("carries the decision and the version id, and anything else is not read as one", () => {
    assert.deepEqual(parseSkillButtonId(skillButtonId("approved", 7)), { decision: "approved", id: 7 });
    assert.deepEqual(parseSkillButtonId(skillButtonId("rejected", 123456)), { decision: "rejected", id: 123456 });
    for (const hostile of ["skill:approve:", "skill:approve:0", "skill:approve:-1", "skill:approve:1.5", "skill:approve:1e3", "skill:delete:3", "skill:approve:3:extra", "skill:approve:99999999999999999999", `skill:approve:${"9".repeat(90)}`, " skill:approve:3", "skill:approve:３"]) {
      assert.equal(parseSkillButtonId(hostile), null, hostile);
    }
  });
});
