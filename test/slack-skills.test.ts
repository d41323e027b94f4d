/**
 * Skills the model proposes, approved in Slack: the real Bolt app against
 * the Slack emulator (Socket Mode, and one click over signed HTTP), a real
 * Agent with the scripted model calling its propose tool, a real Docker
 * sandbox and SQLite store.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { SkillLibrary } from "../src/skills/skill-library.ts";
import type { SkillRecord } from "../src/store/skill-store.ts";
import { codeStep, proposeCall, textStep } from "./emulators/openai-server.ts";
import type { SlackMessage } from "./emulators/slack-server.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { ada, botUserId, buttonClick, channel, startSlackHarness, userPost, type HarnessOptions, type SlackHarness } from "./support/slack-harness.ts";

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-slack-skills-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 2 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

const bea = "U0BEA";
const eve = "U0EVE";
const skillCode = "def quarter_of(month):\n    \"\"\"The fiscal quarter of a month, for a year that starts in February.\"\"\"\n    return ((month - 2) % 12) // 3 + 1\n";
const description = "Fiscal quarter of a month, for the team's February-start year.";

function options(extra: Partial<HarnessOptions> = {}): HarnessOptions {
  return { dataDir: join(dataRoot, randomBytes(4).toString("hex")), sandbox, approvers: [`slack:${ada}`, `slack:${bea}`], ...extra };
}

/** A turn in a new thread in which the model proposes the fiscal-quarters skill; resolves with the thread's root and the card. */
async function proposeInThread(h: SlackHarness, deliver: (post: Record<string, unknown>) => Promise<unknown> = (post) => h.slack.deliver(post)): Promise<{ root: string; card: SlackMessage; record: SkillRecord }> {
  h.model.script([
    codeStep(proposeCall({ name: "fiscal-quarters", description, instructions: "Call quarter_of(month) from skills.fiscal_quarters.", files: [{ path: "scripts/fiscal_quarters.py", content: skillCode }] })),
    textStep("I proposed the fiscal-quarters skill."),
  ]);
  const root = h.slack.nextTs();
  await deliver(userPost({ text: `<@${botUserId}> keep the fiscal quarter as a skill`, ts: root }));
  const posted = await h.slack.waitForCall("chat.postMessage", (call) => call.args.thread_ts === root && /Proposed skill fiscal-quarters/.test(String(call.args.text)));
  const card = h.slack.thread(channel, root).find((message) => message.text === posted.args.text)!;
  const [record] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
  assert.ok(record);
  return { root, card, record };
}

function click(decision: "approve" | "reject", card: SlackMessage, root: string, user: string, value?: string) {
  return buttonClick({ actionId: `threadbook_skill_${decision}`, type: "button", value: value ?? buttonValue(card, decision), messageTs: card.ts, threadTs: root, user });
}

function buttonValue(card: SlackMessage, decision: "approve" | "reject"): string {
  const actions = card.blocks.find((block) => (block as { type: string }).type === "actions") as { elements: { action_id: string; value: string }[] } | undefined;
  const value = actions?.elements.find((element) => element.action_id === `threadbook_skill_${decision}`)?.value;
  assert.ok(value, JSON.stringify(card.blocks));
  return value;
}

function shown(message: SlackMessage): string {
  return JSON.stringify(message.blocks);
}

describe("a proposed skill in Slack", () => {
  test("gets a card after the answer; an approver's click approves it and the card says so; a new thread imports and runs it", async (t) => {
    const h = await startSlackHarness(t, options());
    const { root, card, record } = await proposeInThread(h);
    assert.equal(record.status, "proposed");
    const thread = h.slack.thread(channel, root);
    assert.ok(thread.indexOf(card) > thread.findIndex((message) => message.streaming === "stopped"), "the card comes after the answer");
    assert.match(shown(card), /\*fiscal-quarters\* · version 1 · scope `slack:T0TEAM`/);
    assert.match(shown(card), /February-start year/);
    assert.match(shown(card), /def quarter_of\(month\):/);
    assert.match(shown(card), /<@U0ADA>, <@U0BEA> can approve it/);
    assert.equal(buttonValue(card, "approve"), String(record.id));

    await h.slack.deliverInteraction(click("approve", card, root, ada));
    const updated = await h.slack.waitForCall("chat.update", (call) => call.args.ts === card.ts);
    assert.match(String(JSON.stringify(updated.args.blocks)), /Approved by <@U0ADA> · new conversations in this workspace can use it/);
    assert.doesNotMatch(shown(card), /threadbook_skill_approve/, "the buttons are gone");
    const [approved] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.deepEqual([approved?.status, approved?.decidedBy], ["approved", "slack:U0ADA"]);

    h.model.script([codeStep("from skills.fiscal_quarters import quarter_of\nprint('quarter', quarter_of(5))"), textStep("May is in the second quarter.")]);
    const second = h.slack.nextTs();
    await h.slack.deliver(userPost({ text: `<@${botUserId}> which quarter is May?`, ts: second }));
    const stopped = await h.slack.waitForCall("chat.stopStream", (call) => call.args.thread_ts === second || h.slack.messages.find((message) => message.ts === call.args.ts)?.threadTs === second);
    const answer = h.slack.messages.find((message) => message.ts === stopped.args.ts)!;
    assert.match(JSON.stringify(answer.chunks), /quarter 2/);
  });

  test("a reject click rejects it and the card says who rejected it", async (t) => {
    const h = await startSlackHarness(t, options());
    const { root, card } = await proposeInThread(h);
    await h.slack.deliverInteraction(click("reject", card, root, bea));
    const updated = await h.slack.waitForCall("chat.update", (call) => call.args.ts === card.ts);
    assert.match(JSON.stringify(updated.args.blocks), /Rejected by <@U0BEA>/);
    const [rejected] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.deepEqual([rejected?.status, rejected?.decidedBy], ["rejected", "slack:U0BEA"]);
  });

  test("a click from someone who is not an approver changes nothing and tells them, only them, who can", async (t) => {
    const h = await startSlackHarness(t, options());
    const { root, card } = await proposeInThread(h);
    await h.slack.deliverInteraction(click("approve", card, root, eve));
    const note = await h.slack.waitForCall("chat.postEphemeral");
    assert.deepEqual([note.args.user, note.args.thread_ts], [eve, root]);
    assert.equal(note.args.text, "Only <@U0ADA>, <@U0BEA> can approve skills.");
    const [still] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.deepEqual([still?.status, still?.decidedBy], ["proposed", null]);
    assert.equal(h.slack.callsOf("chat.update").filter((call) => call.args.ts === card.ts).length, 0);
    assert.match(shown(card), /threadbook_skill_approve/);
  });

  test("a second click after a decision says it was already decided, and the first decision stands", async (t) => {
    const h = await startSlackHarness(t, options());
    const { root, card } = await proposeInThread(h);
    // Bea's client still shows the buttons: her click carries the card's value as it was.
    const rejectValue = buttonValue(card, "reject");
    await h.slack.deliverInteraction(click("approve", card, root, ada));
    await h.slack.waitForCall("chat.update", (call) => call.args.ts === card.ts);
    await h.slack.deliverInteraction(click("reject", card, root, bea, rejectValue));
    const note = await h.slack.waitForCall("chat.postEphemeral", (call) => call.args.user === bea);
    assert.match(String(note.args.text), /already/i);
    assert.match(String(note.args.text), /approved/i);
    const [decided] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.deepEqual([decided?.status, decided?.decidedBy], ["approved", "slack:U0ADA"]);
    assert.match(shown(card), /Approved by <@U0ADA>/);
  });

  test("decided from the command line meanwhile: a click says so and the card shows the real state", async (t) => {
    const h = await startSlackHarness(t, options());
    const { root, card } = await proposeInThread(h);
    await new SkillLibrary(h.store.skills, async () => null).reject("fiscal-quarters", undefined, "cli:root");
    await h.slack.deliverInteraction(click("approve", card, root, ada));
    const note = await h.slack.waitForCall("chat.postEphemeral");
    assert.match(String(note.args.text), /rejected/i);
    const updated = await h.slack.waitForCall("chat.update", (call) => call.args.ts === card.ts);
    assert.match(JSON.stringify(updated.args.blocks), /Rejected by `cli:root`/);
    const [decided] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.deepEqual([decided?.status, decided?.decidedBy], ["rejected", "cli:root"]);
  });

  test("approving a version whose module another skill took meanwhile is refused plainly; it stays proposed", async (t) => {
    const h = await startSlackHarness(t, options());
    const { root, card } = await proposeInThread(h);
    const context = { scope: "slack:T0TEAM", by: "cli:root", conversationKey: "cli:elsewhere", autoApprove: true };
    await new SkillLibrary(h.store.skills, async () => null).propose({ name: "other-quarters", description: "Quarters too.", instructions: "Use it.", files: [{ path: "scripts/fiscal_quarters.py", content: "def quarter_of(month):\n    return 1\n" }] }, context);
    await h.slack.deliverInteraction(click("approve", card, root, ada));
    const note = await h.slack.waitForCall("chat.postEphemeral");
    assert.match(String(note.args.text), /skills\.fiscal_quarters is already defined by the skill "other-quarters"/);
    const [still] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.equal(still?.status, "proposed");
  });

  test("an untrusted value is answered plainly: not a number, an unknown version, a version from another thread", async (t) => {
    const h = await startSlackHarness(t, options());
    const { root, card, record } = await proposeInThread(h);
    await h.slack.deliverInteraction(click("approve", card, root, ada, "1; DROP TABLE skills"));
    assert.equal((await h.slack.waitForCall("chat.postEphemeral")).args.text, "That button names no skill version.");
    await h.slack.deliverInteraction(click("approve", card, root, ada, String(record.id + 1000)));
    await h.slack.waitForCall("chat.postEphemeral", (call) => h.slack.callsOf("chat.postEphemeral").indexOf(call) === 1);
    assert.match(h.slack.ephemerals[1]?.text ?? "", /no|not found/i);
    const elsewhere = h.slack.nextTs();
    await h.slack.deliverInteraction(buttonClick({ actionId: "threadbook_skill_approve", type: "button", value: String(record.id), messageTs: elsewhere, threadTs: elsewhere, user: ada }));
    await h.slack.waitForCall("chat.postEphemeral", (call) => h.slack.callsOf("chat.postEphemeral").indexOf(call) === 2);
    assert.equal(h.slack.ephemerals[2]?.text, "That skill was not proposed in this thread.");
    const [still] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.equal(still?.status, "proposed");
    assert.equal(h.slack.callsOf("chat.update").filter((call) => call.args.ts === card.ts).length, 0);
  });

  test("with no Slack approver the card has no buttons and says how to approve from the command line", async (t) => {
    const h = await startSlackHarness(t, options({ approvers: ["discord:42"] }));
    const { card } = await proposeInThread(h);
    assert.doesNotMatch(shown(card), /"actions"/);
    assert.match(shown(card), /threadbook skills approve fiscal-quarters --scope slack:T0TEAM/);
  });
});

describe("proposals as steps of the turn", () => {
  // A name the rules refuse, and that would mention the channel and close a code span if shown raw.
  const hostileName = "<!channel> Fiscal `cal`";
  const refusedTitle = "Propose skill `&lt;!channel&gt; Fiscal 'cal'`";
  const refusedSummary = /^refused: The skill name "&lt;!channel&gt; Fiscal `cal`" is not valid: .*\(rule: name\)$/;
  const storedTitle = "Propose skill `fiscal-calendar`";

  /** A turn that runs a cell, proposes a skill the rules refuse, then the same skill under a good name; resolves with the thread's root. */
  async function refusedThenStored(h: SlackHarness): Promise<string> {
    const proposal = { description, instructions: "Call quarter_of(month) from skills.fiscal_calendar.", files: [{ path: "scripts/fiscal_calendar.py", content: skillCode }] };
    h.model.script([
      codeStep(`# Try the quarters\n${skillCode}quarter_of(5)`),
      codeStep(proposeCall({ name: hostileName, ...proposal })),
      codeStep(proposeCall({ name: "fiscal-calendar", ...proposal })),
      textStep("I proposed the fiscal-calendar skill."),
    ]);
    const root = h.slack.nextTs();
    await h.slack.deliver(userPost({ text: `<@${botUserId}> keep the fiscal calendar as a skill`, ts: root }));
    await h.slack.waitForCall("chat.postMessage", (call) => call.args.thread_ts === root && /Proposed skill fiscal-calendar/.test(String(call.args.text)));
    return root;
  }

  test("streamed: a refused proposal, then a stored one, are task cards of their own, in progress then error or complete with the summary", async (t) => {
    const h = await startSlackHarness(t, options());
    const root = await refusedThenStored(h);
    const streamed = h.slack.thread(channel, root).find((message) => message.streaming === "stopped")!;
    const tasks = streamed.chunks.filter((chunk) => chunk.type === "task_update") as { id: string; title: string; status: string; output?: string }[];
    assert.ok(tasks.some((task) => task.id === "cell-1"), "the cell's card is there too");
    const proposals = tasks.filter((task) => task.id.startsWith("proposal-"));
    assert.deepEqual(proposals.map((task) => [task.id, task.title, task.status]), [
      ["proposal-1", refusedTitle, "in_progress"],
      ["proposal-1", refusedTitle, "error"],
      ["proposal-2", storedTitle, "in_progress"],
      ["proposal-2", storedTitle, "complete"],
    ]);
    assert.equal(proposals[0]?.output, undefined);
    assert.match(proposals[1]?.output ?? "", refusedSummary);
    assert.equal(proposals[3]?.output, "version 1, waiting for approval");
    assert.ok(proposals.every((task) => (task.output ?? "").length <= 250 && task.title.length <= 120));
    assert.ok(!JSON.stringify(h.slack.calls).includes("<!channel>"), "the model's text mentions no one");
  });

  test("streaming refused: the status message has a line for each proposal, after the cell's, with its outcome", async (t) => {
    const h = await startSlackHarness(t, options());
    h.slack.streaming = false;
    const root = await refusedThenStored(h);
    const done = await h.slack.waitForCall("chat.update", (call) => /^Done: 1 cell in/.test(String(call.args.text)));
    const lines = String(done.args.text).split("\n");
    assert.equal(lines.length, 4, String(done.args.text));
    assert.match(lines[1]!, /^✓ Cell 1: Try the quarters: /);
    assert.match(lines[2]!, new RegExp(`^✗ ${escapeRegExp(refusedTitle)}: ${refusedSummary.source.slice(1)}`));
    assert.equal(lines[3], `✓ ${storedTitle}: version 1, waiting for approval`);
    assert.equal(h.slack.thread(channel, root)[0]?.ts, done.args.ts, "the status message is the thread's first reply");
    assert.ok(!JSON.stringify(h.slack.calls).includes("<!channel>"), "the model's text mentions no one");
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

test("HTTP mode: a signed click approves; a click with a forged signature is refused and changes nothing", async (t) => {
  const h = await startSlackHarness(t, options({ mode: "http" }));
  const { secret, eventsUrl } = h.http!;
  const { root, card } = await proposeInThread(h, async (post) => assert.equal((await h.slack.deliverHttp(eventsUrl, h.slack.eventCallback(post), { secret })).status, 200));
  const forged = await h.slack.deliverHttpInteraction(eventsUrl, click("approve", card, root, eve), { secret: "not-the-signing-secret" });
  assert.equal(forged.status, 401);
  assert.equal((await h.slack.deliverHttpInteraction(eventsUrl, click("approve", card, root, ada), { secret })).status, 200);
  const updated = await h.slack.waitForCall("chat.update", (call) => call.args.ts === card.ts);
  assert.match(JSON.stringify(updated.args.blocks), /Approved by <@U0ADA>/);
  const [approved] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
  assert.deepEqual([approved?.status, approved?.decidedBy], ["approved", "slack:U0ADA"]);
  assert.equal(h.slack.ephemerals.length, 0);
});
