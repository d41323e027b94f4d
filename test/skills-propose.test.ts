/**
 * The model proposes skills, through the real agent: a real Docker sandbox,
 * a real SQLite store, the real skill library with its Python compiled in a
 * container of the sandbox image, and the real `openai` SDK against the
 * scripted emulator, over both APIs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import Docker from "dockerode";
import { Agent } from "../src/core/agent.ts";
import type { Reply, TurnUser } from "../src/core/turn.ts";
import { SandboxError } from "../src/errors.ts";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { currentImageTag } from "../src/sandbox/docker/image.ts";
import { pythonCompileContainer } from "../src/sandbox/docker/python-compile-container.ts";
import type { PythonCompileCheck } from "../src/skills/python-compile-check.ts";
import { SkillLibrary } from "../src/skills/skill-library.ts";
import type { SqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, proposeCall, textStep, type OpenAIServer, type RecordedRequest, type ScriptedProposal } from "./emulators/openai-server.ts";
import { instructionsOf, toolOutputs } from "./support/recorded-requests.ts";
import { instanceContainers, removeInstance, startTestSandbox, testInstance, testSandboxOptions } from "./support/sandbox.ts";
import { skillAgent, type SkillAgentOptions } from "./support/skill-agent.ts";

const apiKey = "sk-test-propose-0123456789";
const ada: TurnUser = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };
const functionCell = "def quarter_of(month):\n    return ((month - 2) % 12) // 3 + 1\n\nquarter_of(5)";
const importCell = "from skills.fiscal_calendar import quarter_of\nquarter_of(5)";

const fiscalCalendar: ScriptedProposal = {
  name: "fiscal-calendar",
  description: "Fiscal quarter of a month, for the team's February-start year. Use for any fiscal grouping.",
  instructions: "Call `quarter_of(month)` from `skills.fiscal_calendar`: months 2-4 are quarter 1.\n",
  files: [{ path: "scripts/fiscal_calendar.py", content: "def quarter_of(month):\n    return ((month - 2) % 12) // 3 + 1\n" }],
};

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;
let compileInSandboxImage: PythonCompileCheck;

/** As the shared harness's, the compile check the sandbox image's by default. */
type HarnessOptions = Omit<SkillAgentOptions, "compileCheck"> & { compileCheck?: PythonCompileCheck };

interface Harness {
  agent: Agent;
  store: SqliteStore;
  emulator: OpenAIServer;
  library: SkillLibrary;
  /** Runs one turn of `conversationKey` (a new conversation when omitted) after scripting `steps`. */
  turn(steps: Parameters<OpenAIServer["script"]>[0], options?: { conversationKey?: string; text?: string }): Promise<{ reply: Reply; conversationKey: string; requests: RecordedRequest[] }>;
}

async function harness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const { agent, store, emulator, library, track } = await skillAgent(t, sandbox, dataRoot, apiKey, { ...options, compileCheck: options.compileCheck ?? compileInSandboxImage });
  return {
    agent, store, emulator, library,
    turn: async (steps, turnOptions = {}) => {
      const conversationKey = turnOptions.conversationKey ?? `slack:T1:C1:${randomBytes(4).toString("hex")}`;
      track(conversationKey);
      const first = emulator.requests.length;
      emulator.script(steps);
      const eventKey = `event:${randomBytes(6).toString("hex")}`;
      const reply = await agent.handle({ conversationKey, eventKey, user: ada, text: turnOptions.text ?? "Keep that as a tool.", attachments: [] }, {});
      assert.ok(reply !== null, "the event was taken for a duplicate");
      assert.equal(reply.error, null, reply.error ?? "");
      return { reply, conversationKey, requests: emulator.requests.slice(first) };
    },
  };
}

/** The results of proposal calls the request carries, in order, whichever API carried them. */
function proposalOutputs(request: RecordedRequest): string[] {
  if (request.api === "responses") {
    const input = request.body["input"] as Record<string, unknown>[];
    return input.filter((item) => item["type"] === "function_call_output").map((item) => String(item["output"]));
  }
  const messages = request.body["messages"] as Record<string, unknown>[];
  const proposalIds = new Set(
    messages.flatMap((message) =>
      ((message["tool_calls"] as { id: string; function: { name: string } }[] | undefined) ?? []).filter((call) => call.function.name === "propose_skill").map((call) => call.id),
    ),
  );
  return messages.filter((message) => message["role"] === "tool" && proposalIds.has(String(message["tool_call_id"]))).map((message) => String(message["content"]));
}

/** The names of the tools the request offers. */
function toolNames(request: RecordedRequest): string[] {
  const tools = request.body["tools"] as Record<string, unknown>[];
  return tools.map((tool) => String(request.api === "responses" ? tool["name"] : (tool["function"] as Record<string, unknown>)["name"]));
}

/** Runs the import cell in a new conversation; what it gave the model. */
async function importInNewConversation(h: Harness): Promise<string> {
  const { requests } = await h.turn([codeStep(importCell), textStep("Done.")], { text: "Which quarter is May?" });
  return toolOutputs(requests[1] as RecordedRequest).join("\n");
}

describe("the model proposes skills", () => {
  before(async () => {
    dataRoot = mkdtempSync(join(tmpdir(), "threadbook-skills-propose-"));
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 2 });
    compileInSandboxImage = pythonCompileContainer({ docker: new Docker(), image: currentImageTag(), instance, owner: `${hostname()}:${process.pid}`, limits: testSandboxOptions().limits });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
    rmSync(dataRoot, { recursive: true, force: true });
  });

  for (const variant of [{ api: "responses", stream: true }, { api: "chat", stream: false }] as const) {
    it(`${variant.api}${variant.stream ? " streamed" : ""}: a proposal is stored as proposed and said in the reply; not importable until approved; then a new conversation imports it; the transcript replays it next turn`, async (t) => {
      const h = await harness(t, variant);
      const started = Date.now();
      const { reply, conversationKey, requests } = await h.turn([
        codeStep(functionCell),
        codeStep(proposeCall(fiscalCalendar)),
        textStep("I proposed it as a skill."),
      ]);

      const [first, , third] = requests;
      assert.deepEqual(toolNames(first as RecordedRequest), ["python", "propose_skill"]);
      assert.match(instructionsOf(first as RecordedRequest), /call `propose_skill` when the user asks to keep or save a tool/);
      assert.match(instructionsOf(first as RecordedRequest), /only code that ran successfully in this session/);
      const [told] = proposalOutputs(third as RecordedRequest);
      assert.match(told ?? "", /Stored the skill fiscal-calendar \(version 1\) as a proposal, waiting for an approver/);

      const [stored, ...others] = await h.store.skills.listSkills();
      assert.equal(others.length, 0);
      assert.ok(stored !== undefined);
      assert.equal(stored.status, "proposed");
      assert.equal(stored.scope, "slack:T1");
      assert.equal(stored.proposedBy, "slack:U1");
      assert.equal(stored.conversationKey, conversationKey);
      assert.ok(stored.proposedAt >= started && stored.proposedAt <= Date.now(), "stored with the time of the turn");
      const files = await h.store.skills.skillFiles(stored.id);
      assert.deepEqual(files.map((file) => file.path).sort(), ["SKILL.md", "scripts/fiscal_calendar.py"]);
      assert.match(files.find((file) => file.path === "SKILL.md")?.data.toString("utf8") ?? "", /name: fiscal-calendar[\s\S]*Call `quarter_of\(month\)`/);

      assert.equal(reply.text, "I proposed it as a skill.\n\nProposed skill `fiscal-calendar`: waiting for approval.");
      assert.deepEqual(reply.proposedSkills, [{ id: stored.id, name: "fiscal-calendar", scope: "slack:T1", version: 1, description: fiscalCalendar.description, status: "proposed" }]);
      assert.equal(reply.cells.length, 1, "a proposal is no cell");

      // The stored transcript replays the proposal and its result in the API's own shape.
      const next = await h.turn([textStep("It waits for an approver.")], { conversationKey, text: "Is it saved?" });
      const replayed = next.requests[0] as RecordedRequest;
      assert.deepEqual(proposalOutputs(replayed), [told]);
      if (variant.api === "responses") {
        const input = replayed.body["input"] as Record<string, unknown>[];
        const call = input.find((item) => item["type"] === "function_call");
        assert.equal(call?.["name"], "propose_skill");
        assert.deepEqual(JSON.parse(String(call?.["arguments"])), fiscalCalendar);
        assert.equal(input.filter((item) => item["type"] === "custom_tool_call_output").length, 1, "the code call's output stays a custom tool output");
      }
      assert.deepEqual(next.reply.proposedSkills, []);

      assert.match(await importInNewConversation(h), /ModuleNotFoundError/);
      await h.library.approve("fiscal-calendar", undefined, "cli:admin");
      const approved = await importInNewConversation(h);
      assert.doesNotMatch(approved, /Error/);
      assert.match(approved, /\b2\b/);
    });
  }

  it("auto-approve: the proposal is approved at once, said so, and a new conversation imports it", async (t) => {
    const h = await harness(t, { autoApprove: true });
    const { reply, requests } = await h.turn([codeStep(proposeCall(fiscalCalendar)), textStep("Saved.")]);
    assert.match(proposalOutputs(requests[1] as RecordedRequest)[0] ?? "", /approved automatically: new conversations can import it/);
    assert.equal(reply.text, "Saved.\n\nAdded skill `fiscal-calendar` (approved automatically): new conversations can import it.");
    assert.equal(reply.proposedSkills[0]?.status, "approved");
    const [stored] = await h.store.skills.listSkills();
    assert.equal(stored?.status, "approved");
    const output = await importInNewConversation(h);
    assert.doesNotMatch(output, /Error/);
    assert.match(output, /\b2\b/);
  });

  it("chat streamed: bad proposals (malformed arguments, a bad name, Python that does not compile) are told to the model with the rule and store nothing; the next step fixes it", async (t) => {
    const h = await harness(t, { api: "chat", stream: true });
    const badPython = { ...fiscalCalendar, files: [{ path: "scripts/fiscal_calendar.py", content: "def quarter_of(month:\n    return 1\n" }] };
    const { reply, requests } = await h.turn([
      codeStep(proposeCall(fiscalCalendar, { rawArguments: '{"name": "fiscal-calendar", "files": ' })),
      codeStep(proposeCall({ ...fiscalCalendar, files: "scripts/x.py" } as unknown as ScriptedProposal)),
      codeStep(proposeCall({ ...fiscalCalendar, name: "Fiscal_Calendar" })),
      codeStep(proposeCall(badPython)),
      codeStep(proposeCall(fiscalCalendar)),
      textStep("Proposed after fixing it."),
    ]);
    const told = proposalOutputs(requests.at(-1) as RecordedRequest);
    assert.equal(told.length, 5);
    assert.match(told[0] ?? "", /^The skill was not stored: its arguments are not valid JSON.*Fix it and call propose_skill again\.$/);
    assert.match(told[1] ?? "", /^The skill was not stored: its arguments do not have the shape .*files/);
    assert.match(told[2] ?? "", /^The skill was not stored: The skill name "Fiscal_Calendar" is not valid: 1 to 64 lowercase letters.*\(rule: name\)\. Fix it/);
    assert.match(told[3] ?? "", /^The skill was not stored: scripts\/fiscal_calendar\.py does not compile \(line 1\).*\(rule: python\)\. Fix it/);
    assert.match(told[4] ?? "", /^Stored the skill fiscal-calendar \(version 1\)/);
    const stored = await h.store.skills.listSkills();
    assert.deepEqual(stored.map((record) => [record.name, record.version, record.status]), [["fiscal-calendar", 1, "proposed"]], "the refusals stored nothing");
    assert.deepEqual(reply.proposedSkills.map((skill) => skill.name), ["fiscal-calendar"]);
    assert.equal(reply.text, "Proposed after fixing it.\n\nProposed skill `fiscal-calendar`: waiting for approval.");
    assert.equal((await instanceContainers(instance)).filter((info) => info.Names[0]?.includes("-compile-")).length, 0, "no compile container is left");
  });

  it("a library that fails (Docker down during the compile check) is told to the model as a failed proposal; the turn goes on", async (t) => {
    const dockerDown: PythonCompileCheck = async () => {
      throw new SandboxError("docker_unavailable", "Docker is not reachable.");
    };
    const h = await harness(t, { compileCheck: dockerDown });
    const { reply, requests } = await h.turn([codeStep(proposeCall(fiscalCalendar)), textStep("I could not save it.")]);
    assert.match(proposalOutputs(requests[1] as RecordedRequest)[0] ?? "", /^The skill could not be stored, through no fault of the proposal: Docker is not reachable\. Tell the user/);
    assert.equal(reply.text, "I could not save it.");
    assert.deepEqual(reply.proposedSkills, []);
    assert.deepEqual(await h.store.skills.listSkills(), []);
  });

  it("without a skill library the model is offered the code tool only, and its instructions say nothing of proposing", async (t) => {
    const h = await harness(t, { withLibrary: false });
    const { requests } = await h.turn([textStep("Nothing to run.")]);
    assert.deepEqual(toolNames(requests[0] as RecordedRequest), ["python"]);
    assert.doesNotMatch(instructionsOf(requests[0] as RecordedRequest), /propose_skill/);
  });
});
