/**
 * A skill proposed in a direct message is its author's alone, through the
 * real agent (a real Docker sandbox, SQLite store, skill library and the
 * `openai` SDK against the scripted emulator): approved at once here, it is
 * seen in its author's direct messages only, never in a channel they share
 * with others, another person's conversations or another workspace.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { TurnUser } from "../src/core/turn.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { codeStep, proposeCall, textStep, type RecordedRequest, type ScriptedProposal } from "./emulators/openai-server.ts";
import { instructionsOf, toolOutputs } from "./support/recorded-requests.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { skillAgent, type SkillAgent } from "./support/skill-agent.ts";

const apiKey = "sk-test-direct-scope-0123456789";
const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

const adaSlack: TurnUser = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };
const beaSlack: TurnUser = { platform: "slack", id: "U2", workspace: "T1", displayName: "Bea" };
const adaOtherTeam: TurnUser = { platform: "slack", id: "U1", workspace: "T2", displayName: "Ada" };
const adaDiscord: TurnUser = { platform: "discord", id: "100000000000000001", workspace: null, displayName: "Ada" };
const beaDiscord: TurnUser = { platform: "discord", id: "100000000000000002", workspace: null, displayName: "Bea" };
const adaInGuild: TurnUser = { platform: "discord", id: "100000000000000001", workspace: "900000000000000001", displayName: "Ada" };

const personal: ScriptedProposal = {
  name: "my-shortcuts",
  description: "Ada's own shortcuts over her private data.",
  instructions: "Call `total()` from `skills.my_shortcuts`.\n",
  files: [{ path: "scripts/my_shortcuts.py", content: "def total():\n    return 42\n" }],
};

/** Runs one turn and returns the model's first request of it. */
async function turn(h: SkillAgent, user: TurnUser, direct: boolean, steps: Parameters<SkillAgent["emulator"]["script"]>[0], place: string): Promise<RecordedRequest[]> {
  const conversationKey = `${place}:${randomBytes(4).toString("hex")}`;
  h.track(conversationKey);
  const first = h.emulator.requests.length;
  h.emulator.script(steps);
  const reply = await h.agent.handle({ conversationKey, user, direct, text: "Go on.", attachments: [] });
  assert.equal(reply.error, null, reply.error ?? "");
  return h.emulator.requests.slice(first);
}

/** Whether a new conversation of the user, there, lists the skill in the model's instructions. */
async function sees(h: SkillAgent, user: TurnUser, direct: boolean, place: string): Promise<boolean> {
  const [request] = await turn(h, user, direct, [textStep("Fine.")], place);
  return instructionsOf(request as RecordedRequest).includes("my-shortcuts");
}

describe("a skill proposed in a direct message", () => {
  before(async () => {
    dataRoot = mkdtempSync(join(tmpdir(), "threadbook-skills-direct-"));
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 1 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
    rmSync(dataRoot, { recursive: true, force: true });
  });

  it("on Slack is scoped to its author: seen in their direct messages, importable there, and nowhere else", async (t) => {
    const h = await skillAgent(t, sandbox, dataRoot, apiKey, { autoApprove: true, compileCheck: async () => null });
    await turn(h, adaSlack, true, [codeStep(proposeCall(personal)), textStep("Kept.")], "slack:T1:D1");
    const [stored, ...others] = await h.store.skills.listSkills();
    assert.equal(others.length, 0);
    assert.equal(stored?.scope, "slack:T1:user:U1");
    assert.equal(stored?.status, "approved");

    const imported = await turn(h, adaSlack, true, [codeStep("from skills.my_shortcuts import total\ntotal()"), textStep("42.")], "slack:T1:D1");
    assert.match(instructionsOf(imported[0] as RecordedRequest), /my-shortcuts/);
    assert.match(toolOutputs(imported[1] as RecordedRequest).join("\n"), /\b42\b/);

    assert.equal(await sees(h, adaSlack, false, "slack:T1:C1"), false, "not in a channel Ada shares with others");
    assert.equal(await sees(h, beaSlack, true, "slack:T1:D2"), false, "not in another person's direct messages");
    assert.equal(await sees(h, beaSlack, false, "slack:T1:C1"), false, "not in another person's channel conversation");
    assert.equal(await sees(h, adaOtherTeam, true, "slack:T2:D9"), false, "not in another workspace");
    assert.equal(await sees(h, adaDiscord, true, "discord:dm:1"), false, "not on another platform");
  });

  it("on Discord (no server) is scoped to its author, not global: no server and no other person sees it", async (t) => {
    const h = await skillAgent(t, sandbox, dataRoot, apiKey, { autoApprove: true, compileCheck: async () => null });
    await turn(h, adaDiscord, true, [codeStep(proposeCall(personal)), textStep("Kept.")], "discord:dm:1");
    const [stored] = await h.store.skills.listSkills();
    assert.equal(stored?.scope, "discord:user:100000000000000001");
    assert.equal(await sees(h, adaDiscord, true, "discord:dm:1"), true);
    assert.equal(await sees(h, beaDiscord, true, "discord:dm:2"), false, "not in another person's direct messages");
    assert.equal(await sees(h, adaInGuild, false, "discord:900000000000000001:3"), false, "not in a server, Ada's own included");
    assert.equal(await sees(h, adaSlack, false, "slack:T1:C1"), false, "not on Slack");
  });

  it("a workspace's skill and a person's own may not share a name, as their direct messages see both", async (t) => {
    const h = await skillAgent(t, sandbox, dataRoot, apiKey, { autoApprove: true, compileCheck: async () => null });
    await turn(h, adaSlack, true, [codeStep(proposeCall(personal)), textStep("Kept.")], "slack:T1:D1");
    const requests = await turn(h, beaSlack, false, [codeStep(proposeCall(personal)), textStep("Refused.")], "slack:T1:C1");
    assert.match(toolOutputs(requests[1] as RecordedRequest).join("\n") + JSON.stringify(requests[1]?.body), /taken by an approved skill in slack:T1:user:U1/);
    assert.deepEqual((await h.store.skills.listSkills()).map((record) => record.scope), ["slack:T1:user:U1"]);
  });
});
