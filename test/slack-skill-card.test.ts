/**
 * The skill approval card against Slack's block limits, as the Slack
 * emulator checks them: long and hostile code, many scripts, and the three
 * states of a version.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { skillCard } from "../src/adapters/slack/skill-card.ts";
import type { SkillRecord, StoredSkillFile } from "../src/store/skill-store.ts";
import { blocksBroken } from "./emulators/slack-block-rules.ts";

function record(fields: Partial<SkillRecord> = {}): SkillRecord {
  return {
    id: 7, scope: "slack:T0TEAM", name: "fiscal-quarters", version: 2, status: "proposed",
    description: "Fiscal quarter of a month.", stems: ["fiscal_quarters"], proposedBy: "slack:U0ADA", proposedAt: 0,
    conversationKey: "slack:T0TEAM:C0CHAN:1.1", decidedBy: null, decidedAt: null, ...fields,
  };
}

function file(path: string, text: string): StoredSkillFile {
  return { path, data: Buffer.from(text) };
}

const skillMd = file("SKILL.md", "---\nname: fiscal-quarters\ndescription: Fiscal quarter of a month.\n---\nUse it.\n");

function texts(blocks: object[]): string {
  return blocks.map((block) => JSON.stringify(block)).join("\n");
}

describe("the skill card", () => {
  test("shows name, version, scope, description and code, mentions the Slack approvers, and carries the version id on both buttons", () => {
    const card = skillCard({ record: record(), files: [skillMd, file("scripts/fiscal_quarters.py", "def quarter_of(month):\n    return ((month - 2) % 12) // 3 + 1\n")], approvers: ["slack:U0ADA", "discord:42", "slack:U0BEA"] });
    assert.equal(blocksBroken(card.blocks), null);
    const shown = texts(card.blocks);
    assert.match(shown, /\*fiscal-quarters\* · version 2 · scope `slack:T0TEAM`/);
    assert.match(shown, /Fiscal quarter of a month\./);
    assert.match(shown, /def quarter_of\(month\):/);
    assert.match(shown, /<@U0ADA>, <@U0BEA> can approve it/);
    assert.doesNotMatch(shown, /discord:42|threadbook skills show/);
    const actions = card.blocks.find((block) => (block as { type: string }).type === "actions") as { elements: { action_id: string; value: string; style: string; confirm?: object }[] };
    assert.deepEqual(actions.elements.map((element) => [element.action_id, element.value, element.style]), [["threadbook_skill_approve", "7", "primary"], ["threadbook_skill_reject", "7", "danger"]]);
    assert.ok(actions.elements[1]?.confirm, "Reject asks to confirm");
  });

  test("a megabyte of code full of fences and mentions stays within Slack's limits, escaped, cut with a note naming the full skill", () => {
    const line = "x = '``` <!channel> & <@U0EVE>'\n";
    const scripts = [file("scripts/big.py", line.repeat(30_000)), file("scripts/small.py", "y = 1\n")];
    const card = skillCard({ record: record(), files: [skillMd, ...scripts], approvers: ["slack:U0ADA"] });
    assert.equal(blocksBroken(card.blocks), null);
    assert.ok(card.blocks.length <= 50);
    const shown = texts(card.blocks);
    assert.doesNotMatch(shown, /<!channel>|<@U0EVE>/, "what the model wrote cannot mention anyone");
    assert.match(shown, /&lt;!channel&gt; &amp; &lt;@U0EVE&gt;/);
    assert.match(shown, /The code is cut here: \d+ more lines of `scripts\/big\.py` and 1 more script not shown\. Full skill: `threadbook skills show fiscal-quarters`/);
    for (const block of card.blocks as { text?: { text: string } }[]) {
      const fences = (block.text?.text ?? "").match(/```/g)?.length ?? 0;
      assert.ok(fences === 0 || fences === 2, `a code block stays closed: ${fences} fences`);
      assert.doesNotMatch(block.text?.text ?? "", /&[a-z]{0,3}\n```$/, "no escape is cut in half");
    }
  });

  test("with no Slack approver there are no buttons: it says how to approve from the command line", () => {
    const card = skillCard({ record: record(), files: [skillMd], approvers: ["discord:42"] });
    assert.equal(blocksBroken(card.blocks), null);
    const shown = texts(card.blocks);
    assert.doesNotMatch(shown, /"actions"/);
    assert.match(shown, /threadbook skills approve fiscal-quarters --scope slack:T0TEAM/);
    assert.match(shown, /THREADBOOK_SKILL_APPROVERS/);
  });

  test("once decided the outcome takes the buttons' place", () => {
    const approved = texts(skillCard({ record: record({ status: "approved", decidedBy: "slack:U0ADA" }), files: [skillMd], approvers: ["slack:U0ADA"] }).blocks);
    assert.match(approved, /Approved by <@U0ADA> · new conversations in this workspace can use it/);
    assert.doesNotMatch(approved, /threadbook_skill_approve/);
    const rejected = texts(skillCard({ record: record({ status: "rejected", decidedBy: "cli:root" }), files: [skillMd], approvers: ["slack:U0ADA"] }).blocks);
    assert.match(rejected, /Rejected by `cli:root`/);
    assert.doesNotMatch(rejected, /threadbook_skill_reject/);
  });
});

describe("the emulator's block rules refuse what Slack refuses", () => {
  const button = (fields: object) => [{ type: "actions", elements: [{ type: "button", action_id: "a", text: { type: "plain_text", text: "Go" }, value: "1", ...fields }] }];
  test("a section over 3,000 characters, 51 blocks, a long button value or action_id, a long confirm text", () => {
    assert.match(blocksBroken([{ type: "section", text: { type: "mrkdwn", text: "x".repeat(3_001) } }]) ?? "", /3,000/);
    assert.match(blocksBroken(Array.from({ length: 51 }, () => ({ type: "divider" }))) ?? "", /50|51/);
    assert.match(blocksBroken(button({ value: "v".repeat(2_001) })) ?? "", /2,000/);
    assert.match(blocksBroken(button({ action_id: "a".repeat(256) })) ?? "", /255/);
    assert.match(blocksBroken(button({ confirm: { title: { type: "plain_text", text: "Sure?" }, text: { type: "plain_text", text: "t".repeat(301) }, confirm: { type: "plain_text", text: "Yes" }, deny: { type: "plain_text", text: "No" } } })) ?? "", /300/);
    assert.equal(blocksBroken(button({})), null);
  });
});
