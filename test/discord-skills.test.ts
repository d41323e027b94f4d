/**
 * Approving skills from Discord end to end: the model proposes a skill in a
 * turn (the scripted propose_skill call), the adapter posts it for review
 * after the answer, and button clicks over the emulator's gateway decide it.
 * The real discord.js client, a real Agent and Docker sandbox, real SQLite.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { componentsV2Flag, textDisplays, user, type ApiMessage, type ApiUser, type RecordedCall } from "./emulators/discord-server.ts";
import { codeStep, proposeCall, textStep, type ScriptedProposal } from "./emulators/openai-server.ts";
import { discordHarness, type DiscordHarness } from "./support/discord-harness.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

/** A test whose awaited call never comes fails here instead of hanging. */
const bounded = { timeout: 120_000 };

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;
const ada = user("100000000000000001", "Ada");
const grace = user("100000000000000002", "Grace");

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-discord-skills-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 2 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

const quarterCode = "def quarter_of(month):\n    \"\"\"The fiscal quarter of a month; the year starts in February.\"\"\"\n    return (month - 2) % 12 // 3 + 1\n";

function proposal(name: string, stem = "fiscal_quarters"): ScriptedProposal {
  return {
    name,
    description: `Fiscal quarter of a month (${name}), for the team's February-start year.`,
    instructions: "Call quarter_of(month) with a month number.",
    files: [{ path: `scripts/${stem}.py`, content: quarterCode }],
  };
}

function textOf(message: ApiMessage): string {
  return textDisplays(message.components).join("\n");
}

function buttonIds(message: ApiMessage): string[] {
  return [...JSON.stringify(message.components).matchAll(/"custom_id":"([^"]+)"/g)].map((match) => match[1]!);
}

function botMessages(h: DiscordHarness, channelId: string): ApiMessage[] {
  return h.discord.messagesIn(channelId).filter((message) => message.author.id === h.discord.bot.id && (message.flags & componentsV2Flag) !== 0);
}

const isCallback = (token: string) => (call: RecordedCall) => call.path.endsWith(`/${token}/callback`);
const isEditOfOriginal = (token: string) => (call: RecordedCall) => call.method === "PATCH" && call.path.endsWith(`/${token}/messages/@original`);
const isFollowUp = (h: DiscordHarness, token: string) => (call: RecordedCall) => call.method === "POST" && call.path === `/webhooks/${h.discord.applicationId}/${token}`;

/** The texts of the status message as posted then edited in a channel, in order (the versions with the Stop button: not the answer put in its place). */
function statusVersions(h: DiscordHarness, channelId: string): string[] {
  return h.discord.calls
    .filter((call) => (call.method === "POST" || call.method === "PATCH") && call.path.startsWith(`/channels/${channelId}/messages`))
    .filter((call) => JSON.stringify(call.body?.components ?? []).includes('"custom_id":"threadbook:stop"'))
    .map((call) => textDisplays(call.body.components).join("\n"));
}

/** /ask in the channel (a new thread, a new conversation); returns the thread's id once the turn and its posts are done. */
async function ask(h: DiscordHarness, who: ApiUser, question: string): Promise<string> {
  const before = new Set(h.discord.threads().map((thread) => thread.id));
  const { token } = h.discord.command({ name: "ask", user: who, options: [{ name: "question", type: 3, value: question }] });
  await h.discord.waitFor(isCallback(token));
  await h.adapter.idle();
  const opened = h.discord.threads().find((thread) => !before.has(thread.id));
  assert.ok(opened !== undefined, "a thread for the question");
  return opened.id;
}

/** A click on a button; resolves with its callback once the adapter is done with it. */
async function click(h: DiscordHarness, who: ApiUser, message: ApiMessage, customId: string): Promise<{ token: string; callback: RecordedCall }> {
  const { token } = h.discord.button({ user: who, messageId: message.id, customId });
  const callback = await h.discord.waitFor(isCallback(token));
  await h.adapter.idle();
  return { token, callback };
}

describe("a proposed skill on Discord", () => {
  test("is posted after the answer with its description and code; a non-approver's click changes nothing, the approver's approves it for new conversations, and a second click says it was decided", bounded, async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot, { approvers: [`discord:${grace.id}`, "slack:U0123ABCD"] });
    h.model.script([codeStep({ propose: proposal("fiscal-quarters") }), textStep("I proposed the fiscal-quarters skill.")]);
    const threadId = await ask(h, ada, "Make a skill for fiscal quarters");

    const [answer, review, ...rest] = botMessages(h, threadId);
    assert.equal(rest.length, 0);
    assert.match(textOf(answer!), /I proposed the fiscal-quarters skill\./);
    const [stored] = await h.store.skills.listSkills({ name: "fiscal-quarters" });
    assert.equal(stored?.status, "proposed");
    assert.equal(stored.scope, `discord:${h.discord.guildId}`);
    const shown = textOf(review!);
    assert.match(shown, /\*\*Skill proposed: `fiscal-quarters`\*\* · version 1 · scope `discord:\d+`/);
    assert.match(shown, /> Fiscal quarter of a month \(fiscal-quarters\), for the team's February-start year\./);
    assert.ok(shown.includes(`\`scripts/fiscal_quarters.py\`\n\`\`\`python\n${quarterCode.trimEnd()}\n\`\`\``), shown);
    assert.match(shown, new RegExp(`Waiting for approval by <@${grace.id}>\\.`));
    assert.deepEqual(buttonIds(review!), [`skill:approve:${stored.id}`, `skill:reject:${stored.id}`]);
    const posted = h.discord.calls.find((call) => call.method === "POST" && call.path === `/channels/${threadId}/messages` && JSON.stringify(call.body).includes("Skill proposed"));
    assert.deepEqual(posted?.body.allowed_mentions, { parse: [], users: [grace.id] }, "it pings the approver and no one else");

    // Ada may use threadbook but is not an approver.
    const refused = await click(h, ada, review!, `skill:approve:${stored.id}`);
    assert.equal(refused.callback.body.type, 4);
    assert.equal(refused.callback.body.data.flags & 64, 64, "ephemeral");
    assert.equal(refused.callback.body.data.content, `Only <@${grace.id}> can approve skills.`);
    assert.equal((await h.store.skills.skill(stored.id))?.status, "proposed");
    assert.deepEqual(buttonIds(botMessages(h, threadId)[1]!), [`skill:approve:${stored.id}`, `skill:reject:${stored.id}`], "the message is unchanged");

    const approved = await click(h, grace, review!, `skill:approve:${stored.id}`);
    assert.equal(approved.callback.body.type, 6, "acknowledged at once as an update of the message");
    const edit = await h.discord.waitFor(isEditOfOriginal(approved.token));
    assert.deepEqual(edit.body.allowed_mentions, { parse: [] });
    const decided = await h.store.skills.skill(stored.id);
    assert.equal(decided?.status, "approved");
    assert.equal(decided.decidedBy, `discord:${grace.id}`);
    const updated = botMessages(h, threadId)[1]!;
    assert.equal(updated.id, review!.id, "updated in place");
    assert.match(textOf(updated), new RegExp(`Approved by <@${grace.id}> · new conversations in this server can use it\\.`));
    assert.match(textOf(updated), /```python\ndef quarter_of/, "the code stays shown");
    assert.deepEqual(buttonIds(updated), [], "no buttons once decided");

    // A new conversation imports the approved skill.
    h.model.script([codeStep("from skills.fiscal_quarters import quarter_of\nprint(quarter_of(5))"), textStep("May is in quarter 2.")]);
    const next = await ask(h, ada, "Which fiscal quarter is May in?");
    const [nextAnswer, ...noReview] = botMessages(h, next);
    assert.equal(noReview.length, 0, "nothing proposed, nothing to review");
    assert.match(textOf(nextAnswer!), /```\n2\n```/);

    // A click on the stale buttons (another client still showing them).
    const late = await click(h, grace, review!, `skill:reject:${stored.id}`);
    assert.equal(late.callback.body.type, 6);
    await h.discord.waitFor(isEditOfOriginal(late.token));
    const said = h.discord.calls.find(isFollowUp(h, late.token));
    assert.equal(said?.body.flags & 64, 64, "said to the clicker alone");
    assert.match(said?.body.content, new RegExp(`already approved by discord:${grace.id}`));
    assert.equal((await h.store.skills.skill(stored.id))?.status, "approved");
    assert.match(textOf(botMessages(h, threadId)[1]!), /Approved by/);
  });

  test("two proposals clashing on a module: approving the second is refused plainly and leaves its buttons, Reject rejects it, and a forged or unknown button is answered plainly", bounded, async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot, { approvers: [`discord:${grace.id}`] });
    h.model.script([codeStep({ propose: proposal("fiscal-quarters") }, { propose: proposal("quarter-helper") }), textStep("Two proposals.")]);
    const threadId = await ask(h, ada, "Make two skills");
    const [, first, second] = botMessages(h, threadId);
    const [firstRecord, secondRecord] = [(await h.store.skills.listSkills({ name: "fiscal-quarters" }))[0]!, (await h.store.skills.listSkills({ name: "quarter-helper" }))[0]!];
    assert.match(textOf(first!), /`fiscal-quarters`/);
    assert.match(textOf(second!), /`quarter-helper`/);

    await h.discord.waitFor(isEditOfOriginal((await click(h, grace, first!, `skill:approve:${firstRecord.id}`)).token));
    const clash = await click(h, grace, second!, `skill:approve:${secondRecord.id}`);
    await h.discord.waitFor(isEditOfOriginal(clash.token));
    const said = h.discord.calls.find(isFollowUp(h, clash.token));
    assert.equal(said?.body.flags & 64, 64);
    assert.match(said?.body.content, /skills\.fiscal_quarters is already defined by the skill "fiscal-quarters"/);
    assert.equal((await h.store.skills.skill(secondRecord.id))?.status, "proposed");
    assert.deepEqual(buttonIds(botMessages(h, threadId)[2]!), [`skill:approve:${secondRecord.id}`, `skill:reject:${secondRecord.id}`], "still waiting: the buttons stay");
    assert.ok(h.log.lines().some((line) => line.msg === "skill decision refused"), "logged");

    const rejected = await click(h, grace, second!, `skill:reject:${secondRecord.id}`);
    await h.discord.waitFor(isEditOfOriginal(rejected.token));
    const record = await h.store.skills.skill(secondRecord.id);
    assert.equal(record?.status, "rejected");
    assert.equal(record.decidedBy, `discord:${grace.id}`);
    assert.match(textOf(botMessages(h, threadId)[2]!), new RegExp(`Rejected by <@${grace.id}>\\.`));
    assert.deepEqual(buttonIds(botMessages(h, threadId)[2]!), []);

    const unknownVersion = await click(h, grace, second!, "skill:approve:987654321");
    assert.equal(unknownVersion.callback.body.type, 6);
    assert.match(h.discord.calls.find(isFollowUp(h, unknownVersion.token))?.body.content, /no longer in the library/);
    for (const forged of ["skill:approve:1 OR 1=1", `skill:approve:${"9".repeat(99)}`, "something:else"]) {
      const { callback } = await click(h, grace, second!, forged);
      assert.equal(callback.body.type, 4);
      assert.equal(callback.body.data.flags & 64, 64);
      assert.equal(callback.body.data.content, "threadbook does not know this button.");
    }
    assert.equal((await h.store.skills.skill(firstRecord.id))?.status, "approved", "no click changed the approved one");
  });

  test("with no approver on Discord the proposal has no buttons and says how to approve it", bounded, async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot, { approvers: ["slack:U0123ABCD"] });
    h.model.script([codeStep({ propose: proposal("fiscal-quarters") }), textStep("Proposed.")]);
    const threadId = await ask(h, ada, "Make a skill");
    const review = botMessages(h, threadId)[1];
    assert.ok(review !== undefined, "the proposal is shown");
    assert.deepEqual(buttonIds(review), []);
    assert.match(textOf(review), /approve it with `threadbook skills approve fiscal-quarters` \(or set THREADBOOK_SKILL_APPROVERS\)/);
  });

  test("the status message shows each proposal as its own line while it runs, then refused with why or stored with its version, the model's words escaped", bounded, async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot, { approvers: [`discord:${grace.id}`] });
    // A name that would ping everyone and bold a word were it rendered as written; refused by the name rule.
    const hostile = "Fiscal *Calendar* @everyone <@100000000000000009>";
    h.model.script([
      codeStep(proposeCall(proposal(hostile))),
      codeStep(proposeCall(proposal("fiscal-calendar"))),
      textStep("I proposed the fiscal-calendar skill."),
    ]);
    const threadId = await ask(h, ada, "Make a skill for the fiscal calendar");

    // Four changes after the first post: within the edit budget (edit-budget.ts), so each version is sent.
    const versions = statusVersions(h, threadId);
    const refusedRunning = "⏳ Proposing skill `Fiscal *Calendar* @everyone <@100000000000000009>`…";
    const refusedLine = /^❌ Skill proposal refused: The skill name "Fiscal \\\*Calendar\\\* @\u200beveryone <@\u200b100000000000000009>" is not valid: [^\n]+$/m;
    const storedRunning = "⏳ Proposing skill `fiscal-calendar`…";
    const storedLine = "✅ Proposed skill `fiscal-calendar`: version 1, waiting for approval";
    const running = versions.findIndex((text) => text.includes(refusedRunning));
    assert.ok(running >= 0, `the refused proposal is shown while it runs:\n${versions.join("\n---\n")}`);
    assert.match(versions[running]!, /^\*\*Proposing a skill…\*\*$/m);
    const refused = versions.findIndex((text) => refusedLine.test(text));
    assert.ok(refused > running, `then refused, with why:\n${versions.join("\n---\n")}`);
    assert.ok(!versions[refused]!.includes("⏳"), "its running line is replaced");
    const second = versions.findIndex((text) => text.includes(storedRunning));
    assert.ok(second > refused, "the second proposal while it runs");
    assert.match(versions[second]!, refusedLine, "below the first, which stays");
    const stored = versions.findIndex((text) => text.includes(storedLine));
    assert.ok(stored > second, `then stored, waiting for approval:\n${versions.join("\n---\n")}`);
    const last = versions[stored]!.split("\n");
    assert.equal(last.length, 3, "the headline and one line a proposal");
    assert.equal(last[0], "**Working on it…**");
    assert.match(last[1]!, refusedLine);
    assert.equal(last[2], storedLine);
    const statusCalls = h.discord.calls.filter((call) => call.path.startsWith(`/channels/${threadId}/messages`) && JSON.stringify(call.body?.components ?? []).includes('"custom_id":"threadbook:stop"'));
    assert.equal(statusCalls.length, versions.length);
    for (const call of statusCalls) assert.deepEqual(call.body.allowed_mentions, { parse: [] }, "no status version pings anyone");

    const [answer, review] = botMessages(h, threadId);
    assert.match(textOf(answer!), /I proposed the fiscal-calendar skill\./);
    assert.match(textOf(review!), /\*\*Skill proposed: `fiscal-calendar`\*\*/);
  });
});
