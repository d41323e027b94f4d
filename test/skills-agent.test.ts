/**
 * Skills through the real agent: a real Docker sandbox, a real SQLite store
 * and the real `openai` SDK against the scripted emulator. What a new
 * conversation can import, and what the model's instructions list.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { Agent } from "../src/core/agent.ts";
import type { TurnUser } from "../src/core/turn.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { SkillLibrary } from "../src/skills/skill-library.ts";
import type { SqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, textStep, type OpenAIServer } from "./emulators/openai-server.ts";
import { instructionsOf, toolOutputs } from "./support/recorded-requests.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";
import { skillAgent } from "./support/skill-agent.ts";

const apiKey = "sk-test-skills-0123456789";
const teamOne: TurnUser = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };
const teamTwo: TurnUser = { platform: "slack", id: "U2", workspace: "T2", displayName: "Grace" };
const skillBody = "Call quarter_of(month) for the fiscal quarter; the year starts in February.";
const importCell = "from skills.fiscal_quarters import quarter_of\nquarter_of(5)";

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;

interface Harness {
  agent: Agent;
  store: SqliteStore;
  emulator: OpenAIServer;
  library: SkillLibrary;
  /** Runs one turn in a new conversation; returns what the cell gave the model and the instructions it saw. */
  importInNewConversation(user: TurnUser): Promise<{ output: string; instructions: string }>;
}

async function harness(t: TestContext): Promise<Harness> {
  // The agent is given no library (these tests store proposals themselves); compiling is tested in skills-review.
  const { agent, store, emulator, library, track } = await skillAgent(t, sandbox, dataRoot, apiKey, { compileCheck: async () => null, withLibrary: false });
  return {
    agent, store, emulator, library,
    importInNewConversation: async (user) => {
      const conversationKey = `test:${randomBytes(4).toString("hex")}`;
      track(conversationKey);
      const before = emulator.requests.length;
      emulator.script([codeStep(importCell), textStep("Done.")]);
      const reply = await agent.handle({ conversationKey, eventKey: `event:${conversationKey}`, user, text: "Which quarter is May?", attachments: [] }, {});
      assert.ok(reply !== null && reply.error === null, reply?.error ?? "duplicate");
      const second = emulator.requests[before + 1];
      assert.ok(second !== undefined);
      return { output: toolOutputs(second).join("\n"), instructions: instructionsOf(second) };
    },
  };
}

function propose(store: SqliteStore, scope: string) {
  return store.skills.addSkillVersion({
    scope,
    name: "fiscal-quarters",
    description: "Fiscal quarter of a month, for the team's February-start year.",
    stems: ["fiscal_quarters"],
    files: [
      { path: "SKILL.md", data: Buffer.from(`---\nname: fiscal-quarters\ndescription: Fiscal quarter of a month, for the team's February-start year.\n---\n${skillBody}\n`) },
      { path: "scripts/fiscal_quarters.py", data: Buffer.from("def quarter_of(month):\n    return ((month - 2) % 12) // 3 + 1\n") },
    ],
    status: "proposed",
    proposedBy: "slack:U1",
    conversationKey: "slack:T1:C1:1.1",
  });
}

describe("skills through the agent", () => {
  before(async () => {
    dataRoot = mkdtempSync(join(tmpdir(), "threadbook-skills-agent-"));
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 2 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
    rmSync(dataRoot, { recursive: true, force: true });
  });

  it("a proposal is not usable before approval; once approved a new conversation of the workspace imports it, and its instructions list it in one line without the body", async (t) => {
    const h = await harness(t);
    await propose(h.store, "slack:T1");
    const early = await h.importInNewConversation(teamOne);
    assert.match(early.output, /ModuleNotFoundError/);
    assert.doesNotMatch(early.instructions, /fiscal-quarters/);

    await h.library.approve("fiscal-quarters", undefined, "cli:admin");
    const approved = await h.importInNewConversation(teamOne);
    assert.doesNotMatch(approved.output, /Error/);
    assert.match(approved.output, /\b2\b/);
    assert.match(approved.instructions, /^- fiscal-quarters: Fiscal quarter of a month, for the team's February-start year\.$/m);
    assert.doesNotMatch(approved.instructions, /year starts in February|def quarter_of/);

    // Another workspace sees neither the skill nor its module.
    const other = await h.importInNewConversation(teamTwo);
    assert.match(other.output, /ModuleNotFoundError/);
    assert.doesNotMatch(other.instructions, /fiscal-quarters/);
  });

  it("a rejected proposal is gone", async (t) => {
    const h = await harness(t);
    await propose(h.store, "slack:T1");
    await h.library.reject("fiscal-quarters", undefined, "cli:admin");
    const rejected = await h.importInNewConversation(teamOne);
    assert.match(rejected.output, /ModuleNotFoundError/);
    assert.doesNotMatch(rejected.instructions, /fiscal-quarters/);
  });
});
