/**
 * The model clients used as the model services intend, through the real
 * `openai` SDK against the emulator: reasoning items carried between steps
 * (Responses), effort and verbosity, the prompt cache key and cached tokens,
 * servers that do not take `include` or `prompt_cache_key`, 429s handed to
 * the turn at once, and parallel tool calls on Chat Completions.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import type { Config, ModelApi } from "../src/config.ts";
import { ModelError } from "../src/errors.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { ModelClient, ModelStep, TranscriptItem } from "../src/core/model/model-client.ts";
import { maxEncryptedChars, readReasoningItem, withoutTrailingReasoning } from "../src/core/model/reasoning-items.ts";
import { promptCacheKey } from "../src/core/prompt-cache-key.ts";
import { trimHistory } from "../src/core/history.ts";
import {
  codeStep,
  rateLimitError,
  startOpenAIServer,
  textStep,
  type OpenAIServer,
  type OpenAIServerOptions,
  type RecordedRequest,
} from "./emulators/openai-server.ts";
import { captureLogger } from "./support/capture-logger.ts";

const apiKey = "sk-test-reasoning-0123456789";
/** Long enough (about 1,500 tokens) that the emulator's prompt cache counts the repeated prefix. */
const instructions = `You are threadbook. Answer by running Python. ${"Keep each cell small and look at its result before the next. ".repeat(100)}`;

interface Variant {
  api: ModelApi;
  stream: boolean;
}

const variants: Variant[] = [
  { api: "responses", stream: false },
  { api: "responses", stream: true },
  { api: "chat", stream: false },
  { api: "chat", stream: true },
];

const nameOf = (variant: Variant) => `${variant.api}${variant.stream ? " streamed" : ""}`;

async function withModel(
  variant: Variant,
  run: (emulator: OpenAIServer, model: ModelClient) => Promise<void>,
  settings: Partial<Config["model"]> = {},
  emulatorOptions: OpenAIServerOptions = {},
  logger?: ReturnType<typeof captureLogger>,
): Promise<void> {
  const emulator = await startOpenAIServer({ apiKey, ...emulatorOptions });
  try {
    const model = createModelClient(
      { apiKey, baseURL: emulator.baseURL, name: "gpt-test", api: variant.api, stream: variant.stream, images: true, timeoutMs: 10_000, maxRetries: 0, ...settings },
      logger?.logger,
    );
    await run(emulator, model);
    emulator.assertDone();
  } finally {
    await emulator.stop();
  }
}

type Entry = Record<string, unknown>;

function inputOf(request: RecordedRequest | undefined): Entry[] {
  assert.ok(request, "no request reached the emulator");
  const list = request.api === "responses" ? request.body["input"] : request.body["messages"];
  return Array.isArray(list) ? (list as Entry[]) : [];
}

/** Runs steps as the core does: each step's items go into the transcript, then a result for each call. */
async function runTurn(model: ModelClient, transcript: TranscriptItem[], cacheKey?: string): Promise<ModelStep[]> {
  const steps: ModelStep[] = [];
  for (;;) {
    const step = await model.step({ instructions, transcript, ...(cacheKey === undefined ? {} : { cacheKey }) });
    steps.push(step);
    transcript.push(...step.items);
    if (step.calls.length === 0) return steps;
    for (const call of step.calls) transcript.push({ type: "result", callId: call.callId, output: `ran ${call.callId}` });
  }
}

for (const variant of variants) {
  const name = nameOf(variant);

  test(`${name}: a three-cell turn carries every reasoning item back in place, verbatim, and nothing is rejected`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([
        codeStep({ code: "df = load()", callId: "call_1" }),
        { type: "code", text: "Looking at the columns.", calls: [{ code: "df.columns", callId: "call_2" }] },
        codeStep({ code: "df['price'].median()", callId: "call_3" }),
        textStep("The median price is 41.5."),
      ]);
      const transcript: TranscriptItem[] = [{ type: "user", text: "What is the median price?" }];
      const steps = await runTurn(model, transcript);
      assert.equal(steps.at(-1)?.text, "The median price is 41.5.");
      assert.deepEqual(steps.flatMap((step) => step.calls.map((call) => call.callId)), ["call_1", "call_2", "call_3"]);
      assert.equal(emulator.requests.length, 4);

      const issued = [...emulator.issuedReasoning().keys()];
      if (variant.api === "chat") {
        assert.equal(issued.length, 0);
        assert.equal(transcript.some((item) => item.type === "reasoning"), false);
        return;
      }
      // A reasoning item before each step's first item and before each further call, each with its encrypted content, kept in place.
      assert.equal(issued.length, 5);
      const kept = transcript.filter((item) => item.type === "reasoning");
      assert.deepEqual(kept.map((item) => item.id), issued);
      for (const item of kept) assert.match(item.encryptedContent, /^gAAAAA[A-Za-z0-9_-]+$/);
      // Each request sends back every reasoning item of the steps before it, just before the item that followed it.
      for (const [index, request] of emulator.requests.entries()) {
        const input = inputOf(request);
        const sent = input.filter((entry) => entry["type"] === "reasoning");
        const earlier = steps.slice(0, index).flatMap((step) => step.items.flatMap((item) => (item.type === "reasoning" ? [item.id] : [])));
        assert.deepEqual(sent.map((entry) => entry["id"]), earlier, `request ${index + 1}`);
        for (const entry of sent) {
          const item = kept.find((candidate) => candidate.id === entry["id"]);
          assert.deepEqual(entry, { type: "reasoning", id: item?.id, encrypted_content: item?.encryptedContent, summary: [] });
          const following = input[input.indexOf(entry) + 1];
          assert.ok(following?.["type"] === "custom_tool_call" || following?.["type"] === "message", `${String(entry["id"])} is followed by ${JSON.stringify(following)}`);
        }
      }
      // The second step's items in the order the model wrote them: reasoning, its message, reasoning, its call.
      const second = steps[1]?.items.map((item) => item.type);
      assert.deepEqual(second, ["reasoning", "assistant", "reasoning", "code"]);
    });
  });

  test(`${name}: the reasoning effort reaches the request${variant.api === "responses" ? ", and the verbosity" : ""}`, async () => {
    await withModel(
      variant,
      async (emulator, model) => {
        emulator.script([textStep("Done.")]);
        await model.step({ instructions, transcript: [{ type: "user", text: "Hi" }] });
        const body = emulator.requests[0]?.body ?? {};
        if (variant.api === "responses") {
          assert.deepEqual(body["reasoning"], { effort: "high" });
          assert.deepEqual(body["text"], { verbosity: "low" });
        } else {
          assert.equal(body["reasoning_effort"], "high");
          assert.equal("verbosity" in body, false, "verbosity is a Responses setting");
        }
      },
      { reasoningEffort: "high", verbosity: "low" },
    );
  });

  test(`${name}: the cache key is the prompt_cache_key; the steps of a turn repeat the previous request as a prefix, and cached tokens come back`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([codeStep("a = 1"), codeStep("b = a + 1"), textStep("b is 2.")]);
      const key = promptCacheKey("slack:T1:C1:1700000000.000100");
      const steps = await runTurn(model, [{ type: "user", text: "What is b?" }], key);
      for (const request of emulator.requests) assert.equal(request.body["prompt_cache_key"], key);
      // The growing list is last in the body: each body, but for its closing brackets, begins the next.
      for (const [index, request] of emulator.requests.entries()) {
        if (index === 0) continue;
        const previous = emulator.requests[index - 1]?.bodyText ?? "";
        const list = variant.api === "responses" ? '"input":[' : '"messages":[';
        const withoutClose = previous.slice(0, previous.lastIndexOf("]"));
        assert.ok(previous.includes(list), list);
        assert.ok(request.bodyText.startsWith(withoutClose), `request ${index + 1} repeats request ${index} as its prefix`);
      }
      assert.equal(steps[0]?.usage.cachedInputTokens, 0);
      assert.ok((steps[1]?.usage.cachedInputTokens ?? 0) >= 1024, `cached: ${steps[1]?.usage.cachedInputTokens}`);
      assert.ok((steps[2]?.usage.cachedInputTokens ?? 0) >= (steps[1]?.usage.cachedInputTokens ?? 0));
    });
  });

  test(`${name}: a server that does not take prompt_cache_key is answered without it, and is not sent it again`, async () => {
    const log = captureLogger();
    await withModel(
      variant,
      async (emulator, model) => {
        emulator.script([textStep("One."), textStep("Two.")]);
        const key = promptCacheKey("discord:1:2");
        assert.equal((await model.step({ instructions, transcript: [{ type: "user", text: "1" }], cacheKey: key })).text, "One.");
        assert.equal((await model.step({ instructions, transcript: [{ type: "user", text: "2" }], cacheKey: key })).text, "Two.");
        assert.deepEqual(emulator.requests.map((request) => "prompt_cache_key" in request.body), [true, false, false]);
        const said = log.lines().filter((line) => String(line["msg"]).includes("prompt_cache_key"));
        assert.equal(said.length, 1);
      },
      {},
      { rejectParameters: ["prompt_cache_key"] },
      log,
    );
  });

  test(`${name}: a 429 reaches the caller at once with the wait the server asked for (the SDK does not retry it)`, async () => {
    await withModel(
      variant,
      async (emulator, model) => {
        emulator.script([rateLimitError({ "retry-after": "7" })]);
        const error = await model.step({ instructions, transcript: [{ type: "user", text: "Hi" }] }).then(
          () => assert.fail("the step answered"),
          (caught: unknown) => caught,
        );
        assert.ok(error instanceof ModelError);
        assert.equal(error.code, "model_rate_limited");
        assert.equal(error.retryAfterMs, 7_000);
        assert.equal(emulator.requests.length, 1);
      },
      { maxRetries: 3 },
    );
  });
}

for (const stream of [false, true]) {
  test(`responses${stream ? " streamed" : ""}: a server that rejects include is detected once, said once in the log, and answered without it`, async () => {
    const log = captureLogger();
    await withModel(
      { api: "responses", stream },
      async (emulator, model) => {
        emulator.script([codeStep("x = 1"), textStep("x is 1.")]);
        const transcript: TranscriptItem[] = [{ type: "user", text: "x?" }];
        const steps = await runTurn(model, transcript);
        assert.equal(steps.at(-1)?.text, "x is 1.");
        assert.deepEqual(emulator.requests.map((request) => "include" in request.body), [true, false, false]);
        // Without encrypted content there is nothing to carry: no reasoning item is kept or sent.
        assert.equal(transcript.some((item) => item.type === "reasoning"), false);
        assert.equal(emulator.requests.some((request) => inputOf(request).some((entry) => entry["type"] === "reasoning")), false);
        const said = log.lines().filter((line) => String(line["msg"]).includes("`include`"));
        assert.equal(said.length, 1);
        assert.equal(said[0]?.["level"], 40);
      },
      {},
      { rejectParameters: ["include"] },
      log,
    );
  });

  test(`chat${stream ? " streamed" : ""}: parallel tool calls are each answered by their id, in order`, async () => {
    await withModel({ api: "chat", stream }, async (emulator, model) => {
      emulator.script([codeStep({ code: "a = 1", callId: "call_a" }, { code: "b = 2", callId: "call_b" }), textStep("a + b is 3.")]);
      const transcript: TranscriptItem[] = [{ type: "user", text: "a + b?" }];
      const steps = await runTurn(model, transcript);
      assert.equal(steps.at(-1)?.text, "a + b is 3.");
      const messages = inputOf(emulator.requests[1]);
      const assistant = messages.find((message) => message["role"] === "assistant");
      assert.deepEqual((assistant?.["tool_calls"] as Entry[]).map((call) => call["id"]), ["call_a", "call_b"]);
      assert.deepEqual(messages.filter((message) => message["role"] === "tool").map((message) => [message["tool_call_id"], message["content"]]), [
        ["call_a", "ran call_a"],
        ["call_b", "ran call_b"],
      ]);
    });
  });
}

test("emulator: reasoning items sent without their encrypted content, altered, or without their following item are rejected as the real API rejects them", async () => {
  const emulator = await startOpenAIServer({ apiKey });
  try {
    const client = new OpenAI({ apiKey, baseURL: emulator.baseURL, maxRetries: 0 });
    emulator.script([codeStep({ code: "x = 1", callId: "call_x" })]);
    const first = await client.responses.create({ model: "gpt-test", input: "x?", store: false, include: ["reasoning.encrypted_content"], tools: [{ type: "custom", name: "python" }] });
    const reasoning = first.output.find((item) => item.type === "reasoning");
    const call = first.output.find((item) => item.type === "custom_tool_call");
    assert.ok(reasoning?.type === "reasoning" && typeof reasoning.encrypted_content === "string" && call?.type === "custom_tool_call");
    const send = (input: OpenAI.Responses.ResponseInputItem[]) =>
      client.responses.create({ model: "gpt-test", input, store: false, tools: [{ type: "custom", name: "python" }] }).then(
        () => assert.fail("accepted"),
        (error: unknown) => error as { status: number; message: string },
      );
    const callItem = { type: "custom_tool_call" as const, call_id: call.call_id, name: "python", input: call.input };
    const output = { type: "custom_tool_call_output" as const, call_id: call.call_id, output: "" };
    const bare = await send([{ type: "reasoning", id: reasoning.id, summary: [] }, callItem, output]);
    assert.equal(bare.status, 404);
    assert.match(bare.message, /Item with id 'rs_[0-9a-f]+' not found\. Items are not persisted when `store` is set to false/);
    const altered = await send([{ type: "reasoning", id: reasoning.id, summary: [], encrypted_content: `${reasoning.encrypted_content}A` }, callItem, output]);
    assert.equal(altered.status, 400);
    assert.match(altered.message, /could not be verified/);
    const alone = await send([{ type: "reasoning", id: reasoning.id, summary: [], encrypted_content: reasoning.encrypted_content }, output]);
    assert.equal(alone.status, 400);
    assert.match(alone.message, /of type 'reasoning' was provided without its required following item/);
    assert.equal(emulator.takeFaults().length, 3);
    emulator.assertDone();
  } finally {
    await emulator.stop();
  }
});

test("reasoning items: one over the size bound, with an odd id or content, or without encrypted content is not kept", () => {
  const item = (fields: Record<string, unknown>) => ({ type: "reasoning" as const, id: "rs_1", summary: [], ...fields }) as Parameters<typeof readReasoningItem>[0];
  assert.deepEqual(readReasoningItem(item({ encrypted_content: "gAAAAAabc" }), "m"), { type: "reasoning", id: "rs_1", encryptedContent: "gAAAAAabc", summary: [], model: "m" });
  assert.equal(readReasoningItem(item({ encrypted_content: "a".repeat(maxEncryptedChars + 1) }), "m"), null);
  assert.equal(readReasoningItem(item({ encrypted_content: "not base64 <script>" }), "m"), null);
  assert.equal(readReasoningItem(item({ id: "rs 1\n", encrypted_content: "gAAAAAabc" }), "m"), null);
  assert.equal(readReasoningItem(item({}), "m"), null);
  assert.equal(readReasoningItem(item({ encrypted_content: "gAAAAAabc", summary: [{ type: "summary_text", text: "x".repeat(20_000) }] }), "m"), null);
  // A reasoning item with nothing after it in its step has no item to be sent before.
  const reasoning = { type: "reasoning" as const, id: "rs_2", encryptedContent: "gAAAAAabc", summary: [], model: "m" };
  assert.deepEqual(withoutTrailingReasoning([reasoning, { type: "assistant", text: "x" }, reasoning]), [reasoning, { type: "assistant", text: "x" }]);
});

test("responses: reasoning of another model, or whose item the history dropped, is not sent", async () => {
  await withModel({ api: "responses", stream: false }, async (emulator, model) => {
    emulator.script([textStep("Yes.")]);
    const foreign = { type: "reasoning" as const, id: "rs_foreign", encryptedContent: "gAAAAAabc", summary: [], model: "another-model" };
    const orphan = { type: "reasoning" as const, id: "rs_orphan", encryptedContent: "gAAAAAdef", summary: [], model: "gpt-test" };
    await model.step({
      instructions,
      transcript: [
        { type: "user", text: "a" },
        foreign,
        { type: "assistant", text: "b" },
        orphan,
        { type: "user", text: "c" },
      ],
    });
    assert.equal(inputOf(emulator.requests[0]).some((entry) => entry["type"] === "reasoning"), false);
  });
});

test("history: over its budget, earlier reasoning goes first, before any cell is shortened", () => {
  const reasoning = { type: "reasoning" as const, id: "rs_1", encryptedContent: "g".repeat(5_000), summary: [], model: "m" };
  const items: TranscriptItem[] = [
    { type: "user", text: "q" },
    reasoning,
    { type: "code", callId: "c1", code: "x = 1" },
    { type: "result", callId: "c1", output: "ok" },
    { type: "assistant", text: "a" },
  ];
  assert.deepEqual(trimHistory(items, 10_000), items);
  assert.deepEqual(trimHistory(items, 1_000), items.filter((item) => item.type !== "reasoning"));
});

test("prompt cache key: the same for one conversation, different for two, and never the key itself", () => {
  const key = "slack:T0123:C0456:1700000000.000100";
  assert.equal(promptCacheKey(key), promptCacheKey(key));
  assert.notEqual(promptCacheKey(key), promptCacheKey("slack:T0123:C0456:1700000000.000200"));
  assert.match(promptCacheKey(key), /^tb-[0-9a-f]{32}$/);
  for (const part of key.split(":")) assert.equal(promptCacheKey(key).includes(part), false);
});

test("optional fields: a rejection is recognised by the parameter or by the server's words naming the field, not by a mere mention", async () => {
  const { BadRequestError } = await import("openai");
  const { OptionalFields } = await import("../src/core/model/optional-fields.ts");
  const log = captureLogger();
  const rejected = (message: string, param: string | null = null) =>
    new OptionalFields({ include: "x", prompt_cache_key: "y" }, log.logger).rejectedBy(
      new BadRequestError(400, { message, param }, message, new Headers()),
      { include: [], prompt_cache_key: "k" },
    );
  assert.equal(rejected("Unknown parameter: 'include'.", "include"), "include");
  assert.equal(rejected("Unknown parameter: 'include'."), "include");
  assert.equal(rejected("Unrecognized request argument supplied: prompt_cache_key"), "prompt_cache_key");
  assert.equal(rejected("1 validation error for ResponsesRequest: include Extra inputs are not permitted"), "include");
  assert.equal(rejected("The input must include at least one user message."), null);
  assert.equal(rejected("Invalid value for 'temperature'."), null);
});
