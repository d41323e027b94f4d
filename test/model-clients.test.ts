/**
 * One contract suite run against both ModelClient implementations, plain and
 * streamed, through the real `openai` SDK pointed at the scripted emulator.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChatCompletionCreateParams } from "openai/resources/chat/completions";
import type { ResponseCreateParams } from "openai/resources/responses/responses";
import type { Config, ModelApi } from "../src/config.ts";
import { ModelError, type ErrorCode } from "../src/errors.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import type { ModelClient, ToolCall, TranscriptItem } from "../src/core/model/model-client.ts";
import { messagesSink, textSink } from "../src/core/model/text-deltas.ts";
import {
  codeStep,
  contextLengthError,
  delayStep,
  errorStep,
  invalidApiKeyError,
  modelNotFoundError,
  proposeCall,
  rateLimitError,
  serverError,
  deltas,
  refusalStep,
  stallStep,
  startOpenAIServer,
  textStep,
  type OpenAIServer,
  type OpenAIServerOptions,
  type RecordedRequest,
} from "./emulators/openai-server.ts";

const apiKey = "sk-test-0123456789abcdef";
const instructions = "You are threadbook. Answer by running Python.";
const question: TranscriptItem[] = [{ type: "user", text: "What is the median order value?" }];

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

type ModelSettings = Config["model"];

/**
 * Starts an emulator, runs the test against it and, when the test passed,
 * checks in teardown that every scripted step was played and no fault is
 * left: a test that provokes a fault on purpose takes it (`takeFaults`).
 */
async function withEmulator(run: (emulator: OpenAIServer) => Promise<void>, options: OpenAIServerOptions = {}): Promise<void> {
  const emulator = await startOpenAIServer(options);
  try {
    await run(emulator);
    emulator.assertDone();
  } finally {
    await emulator.stop();
  }
}

function modelSettings(variant: Variant, baseURL: string, settings: Partial<ModelSettings> = {}): ModelSettings {
  return { apiKey, baseURL, name: "gpt-test", api: variant.api, stream: variant.stream, images: true, timeoutMs: 10_000, maxRetries: 0, ...settings };
}

/** withEmulator, with the client under test built against it. */
async function withModel(
  variant: Variant,
  run: (emulator: OpenAIServer, model: ModelClient) => Promise<void>,
  settings: Partial<ModelSettings> = {},
): Promise<void> {
  await withEmulator((emulator) => run(emulator, createModelClient(modelSettings(variant, emulator.baseURL, settings))), { apiKey });
}

async function expectModelError(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<ModelError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof ModelError, `expected a ModelError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  assert.doesNotMatch(JSON.stringify(caught.details), new RegExp(apiKey));
  return caught;
}

function responsesBody(request: RecordedRequest | undefined): ResponseCreateParams {
  assert.ok(request, "no request reached the emulator");
  assert.equal(request.api, "responses");
  return request.body as unknown as ResponseCreateParams;
}

function chatBody(request: RecordedRequest | undefined): ChatCompletionCreateParams {
  assert.ok(request, "no request reached the emulator");
  assert.equal(request.api, "chat");
  return request.body as unknown as ChatCompletionCreateParams;
}

/** The code of a code call; fails the test on a call of another tool. */
function codeOf(call: ToolCall): string {
  assert.equal(call.type, "code", `expected a code call, got ${JSON.stringify(call)}`);
  return call.type === "code" ? call.code : "";
}

/** A proposal whose text breaks naive escaping too. */
const proposal = {
  name: "fiscal-calendar",
  description: "Fiscal quarter and year of a date, for the team's February-start year. Use for any fiscal grouping.",
  instructions: "Import with `from skills.fiscal_calendar import fiscal_quarter`.\n\n```python\nfiscal_quarter(\"2024-05-01\")  # 2\n```\n",
  files: [{ path: "scripts/fiscal_calendar.py", content: "def fiscal_quarter(day):\n    \"\"\"Quarter 1–4 (naïve \\ dates).\"\"\"\n\treturn 2\n" }],
};

/** Python that breaks naive escaping: quotes, backslashes, tabs, CRLF, non-ASCII, a trailing space. */
const trickyCode =
  String.raw`import re, json
path = "C:\data\new\table.csv"
pattern = re.compile(r'\d+\.\d*\s*"quoted"\\')
print(f"tab:\t|newline:\n|quote:\"|{json.dumps({'a': "b"})}")
doc = """triple "quoted" text
  with 'single' quotes and a trailing backslash \\
"""
print("naïve café 📈 — done")   ` + "\n\tif True:\r\n\t\tpass\n";

const png = { mediaType: "image/png" as const, base64: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==" };

for (const variant of variants) {
  const name = `${variant.api}${variant.stream ? " streamed" : ""}`;

  test(`${name}: a text answer comes back with its usage, and the request is well formed`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([textStep("The median order value is 42.50.", { inputTokens: 120, outputTokens: 9, cachedInputTokens: 64, reasoningTokens: 5 })]);
      const step = await model.step({ instructions, transcript: question });
      const text = "The median order value is 42.50.";
      // The reasoning item before the message comes first, in place, with its encrypted content (Responses only).
      const reasoning = step.items.filter((item) => item.type === "reasoning");
      assert.deepEqual(step.items.filter((item) => item.type !== "reasoning"), [{ type: "assistant", text }]);
      assert.equal(reasoning.length, variant.api === "responses" ? 1 : 0);
      if (variant.api === "responses") assert.equal(step.items[0]?.type, "reasoning");
      assert.deepEqual({ ...step, items: [] }, {
        text,
        calls: [],
        items: [],
        usage: { inputTokens: 120, cachedInputTokens: 64, outputTokens: 9, reasoningTokens: 5 },
        model: "gpt-test",
      });

      const [request] = emulator.requests;
      assert.equal(request?.headers.authorization, `Bearer ${apiKey}`);
      assert.equal(request?.stream, variant.stream);
      assert.equal(model.description, `${variant.api}:gpt-test`);
      if (variant.api === "responses") {
        const body = responsesBody(request);
        assert.equal(body.model, "gpt-test");
        assert.equal(body.instructions, instructions);
        assert.equal(body.store, false);
        assert.deepEqual(body.include, ["reasoning.encrypted_content"]);
        assert.equal("reasoning" in body, false, "no effort is sent unless THREADBOOK_MODEL_REASONING_EFFORT is set");
        assert.equal("text" in body, false, "no verbosity is sent unless THREADBOOK_MODEL_VERBOSITY is set");
        assert.equal("prompt_cache_key" in body, false, "no cache key without a conversation");
        assert.equal(body.parallel_tool_calls, false);
        assert.deepEqual(body.tools?.map((tool) => [tool.type, "name" in tool ? tool.name : undefined]), [["custom", "python"]]);
        assert.equal("format" in (body.tools?.[0] ?? {}), false, "a custom tool without a format takes free text");
      } else {
        const body = chatBody(request);
        assert.equal(body.model, "gpt-test");
        assert.equal("reasoning_effort" in body, false, "no effort is sent unless THREADBOOK_MODEL_REASONING_EFFORT is set");
        assert.deepEqual(body.messages[0], { role: "system", content: instructions });
        const tool = body.tools?.[0];
        assert.equal(tool?.type, "function");
        assert.equal(tool.type === "function" && tool.function.name, "python");
        if (variant.stream) assert.deepEqual(body.stream_options, { include_usage: true });
      }
    });
  });

  test(`${name}: a code call's Python arrives byte-exact, with its call id`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([codeStep({ code: trickyCode, callId: "call_tricky" })]);
      const step = await model.step({ instructions, transcript: question });
      assert.deepEqual(step.calls, [{ type: "code", callId: "call_tricky", code: trickyCode }]);
      assert.equal(step.text, "");
      assert.ok(step.usage.inputTokens > 0 && step.usage.outputTokens > 0);
    });
  });

  test(`${name}: text beside several code calls keeps both, calls in order`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([{ type: "code", text: "Loading the file first.", calls: [{ code: "import pandas as pd" }, { code: "df = pd.read_csv('orders.csv')" }] }]);
      const step = await model.step({ instructions, transcript: question });
      assert.equal(step.text, "Loading the file first.");
      assert.deepEqual(step.calls.map(codeOf), ["import pandas as pd", "df = pd.read_csv('orders.csv')"]);
      assert.equal(new Set(step.calls.map((call) => call.callId)).size, 2);
    });
  });

  test(`${name}: the proposal tool is offered when asked, as a strict function tool, and its call arrives between code calls in order, arguments byte-exact`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([
        { type: "code", text: "Saving it.", calls: [{ code: "x = 1", callId: "call_a" }, proposeCall(proposal, { callId: "call_p" }), { code: "x", callId: "call_b" }] },
      ]);
      const step = await model.step({ instructions, transcript: question, proposeSkill: true });
      assert.equal(step.text, "Saving it.");
      assert.deepEqual(step.calls, [
        { type: "code", callId: "call_a", code: "x = 1" },
        { type: "proposal", callId: "call_p", arguments: JSON.stringify(proposal) },
        { type: "code", callId: "call_b", code: "x" },
      ]);
      const [request] = emulator.requests;
      if (variant.api === "responses") {
        const tools = responsesBody(request).tools ?? [];
        assert.deepEqual(tools.map((tool) => [tool.type, "name" in tool ? tool.name : undefined]), [["custom", "python"], ["function", "propose_skill"]]);
        const tool = tools[1];
        assert.ok(tool?.type === "function");
        assert.equal(tool.strict, true);
        assert.deepEqual((tool.parameters as { required: string[] }).required, ["name", "description", "instructions", "files", "requirements"]);
        assert.match(tool.description ?? "", /ran successfully/);
      } else {
        const tools = chatBody(request).tools ?? [];
        assert.deepEqual(tools.map((tool) => tool.type === "function" && tool.function.name), ["python", "propose_skill"]);
        const tool = tools[1];
        assert.ok(tool?.type === "function");
        assert.equal(tool.function.strict, undefined, "not strict on Chat: a lax server's malformed arguments must reach the core, not fail the stream");
        const parameters = tool.function.parameters as { properties: Record<string, { description: string }>; additionalProperties: boolean };
        assert.equal(parameters.additionalProperties, false);
        assert.match(parameters.properties["name"]?.description ?? "", /1 to 64 lowercase letters, digits and single hyphens/);
        assert.match(parameters.properties["files"]?.description ?? "", /scripts\/<stem>\.py.*skills\.<stem>/);
      }
    });
  });

  test(`${name}: proposal arguments that are not JSON reach the core as they came, for it to answer (a strict tool's, streamed over Responses, are a bad response)`, async () => {
    await withModel(variant, async (emulator, model) => {
      const broken = '{"name": "fiscal-calendar", "files": [';
      emulator.script([codeStep(proposeCall(proposal, { rawArguments: broken, callId: "call_broken" }))]);
      const stepping = model.step({ instructions, transcript: question, proposeSkill: true });
      if (variant.api === "responses" && variant.stream) {
        // A strict function tool's arguments are parsed by the SDK's stream; OpenAI's strict mode never sends these.
        await expectModelError(stepping, "model_bad_response", /could not read/);
        return;
      }
      assert.deepEqual((await stepping).calls, [{ type: "proposal", callId: "call_broken", arguments: broken }]);
    });
  });

  test(`${name}: a transcript with a proposal and its result replays in the API's own shape`, async () => {
    const argumentsText = JSON.stringify(proposal);
    const transcript: TranscriptItem[] = [
      { type: "user", text: "Keep that function as a tool." },
      { type: "proposal", callId: "call_p", arguments: argumentsText },
      { type: "result", callId: "call_p", output: "Stored the skill fiscal-calendar (version 1) as a proposal." },
      { type: "code", callId: "call_c", code: "print(1)" },
      { type: "result", callId: "call_c", output: "1" },
      { type: "assistant", text: "Proposed." },
      { type: "user", text: "Thanks." },
    ];
    await withModel(variant, async (emulator, model) => {
      emulator.script([textStep("You are welcome.")]);
      await model.step({ instructions, transcript, proposeSkill: true });
      const [request] = emulator.requests;
      if (variant.api === "responses") {
        assert.deepEqual(responsesBody(request).input, [
          { type: "message", role: "user", content: "Keep that function as a tool." },
          { type: "function_call", call_id: "call_p", name: "propose_skill", arguments: argumentsText },
          { type: "function_call_output", call_id: "call_p", output: "Stored the skill fiscal-calendar (version 1) as a proposal." },
          { type: "custom_tool_call", call_id: "call_c", name: "python", input: "print(1)" },
          { type: "custom_tool_call_output", call_id: "call_c", output: "1" },
          { type: "message", role: "assistant", content: "Proposed." },
          { type: "message", role: "user", content: "Thanks." },
        ]);
      } else {
        assert.deepEqual(chatBody(request).messages, [
          { role: "system", content: instructions },
          { role: "user", content: "Keep that function as a tool." },
          { role: "assistant", content: null, tool_calls: [{ id: "call_p", type: "function", function: { name: "propose_skill", arguments: argumentsText } }] },
          { role: "tool", tool_call_id: "call_p", content: "Stored the skill fiscal-calendar (version 1) as a proposal." },
          { role: "assistant", content: null, tool_calls: [{ id: "call_c", type: "function", function: { name: "python", arguments: JSON.stringify({ code: "print(1)" }) } }] },
          { role: "tool", tool_call_id: "call_c", content: "1" },
          { role: "assistant", content: "Proposed." },
          { role: "user", content: "Thanks." },
        ]);
      }
    });
  });

  test(`${name}: a refusal is the step's text`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([refusalStep("I can’t help with that.")]);
      const step = await model.step({ instructions, transcript: question });
      assert.deepEqual([step.text, step.calls], ["I can’t help with that.", []]);
    });
  });

  test(`${name}: a transcript with code, a traceback and results is sent in the API's own shape`, async () => {
    const traceback = "Traceback (most recent call last):\n  File \"<cell 1>\", line 1, in <module>\nNameError: name 'pd' is not defined";
    const transcript: TranscriptItem[] = [
      { type: "user", text: "Mean of the price column?" },
      { type: "assistant", text: "Let me load the file." },
      { type: "code", callId: "call_1", code: "df = pd.read_csv('orders.csv')" },
      { type: "result", callId: "call_1", output: traceback },
      { type: "code", callId: "call_2", code: "import pandas as pd\ndf = pd.read_csv('orders.csv')\ndf['price'].mean()" },
      { type: "result", callId: "call_2", output: "41.5" },
      { type: "assistant", text: "The mean price is 41.5." },
      { type: "user", text: "And the median?" },
    ];
    await withModel(variant, async (emulator, model) => {
      emulator.script([textStep("It is 40.")]);
      await model.step({ instructions, transcript });
      const [request] = emulator.requests;
      if (variant.api === "responses") {
        assert.deepEqual(responsesBody(request).input, [
          { type: "message", role: "user", content: "Mean of the price column?" },
          { type: "message", role: "assistant", content: "Let me load the file." },
          { type: "custom_tool_call", call_id: "call_1", name: "python", input: "df = pd.read_csv('orders.csv')" },
          { type: "custom_tool_call_output", call_id: "call_1", output: traceback },
          { type: "custom_tool_call", call_id: "call_2", name: "python", input: "import pandas as pd\ndf = pd.read_csv('orders.csv')\ndf['price'].mean()" },
          { type: "custom_tool_call_output", call_id: "call_2", output: "41.5" },
          { type: "message", role: "assistant", content: "The mean price is 41.5." },
          { type: "message", role: "user", content: "And the median?" },
        ]);
      } else {
        const functionCall = (id: string, code: string) => ({ id, type: "function", function: { name: "python", arguments: JSON.stringify({ code }) } });
        assert.deepEqual(chatBody(request).messages, [
          { role: "system", content: instructions },
          { role: "user", content: "Mean of the price column?" },
          { role: "assistant", content: "Let me load the file.", tool_calls: [functionCall("call_1", "df = pd.read_csv('orders.csv')")] },
          { role: "tool", tool_call_id: "call_1", content: traceback },
          { role: "assistant", content: null, tool_calls: [functionCall("call_2", "import pandas as pd\ndf = pd.read_csv('orders.csv')\ndf['price'].mean()")] },
          { role: "tool", tool_call_id: "call_2", content: "41.5" },
          { role: "assistant", content: "The mean price is 41.5." },
          { role: "user", content: "And the median?" },
        ]);
      }
    });
  });

  test(`${name}: figures follow their code result as images, and only when present and enabled`, async () => {
    const transcript: TranscriptItem[] = [
      ...question,
      { type: "code", callId: "call_plot", code: "df.plot()" },
      { type: "result", callId: "call_plot", output: "<Axes>", images: [png] },
      { type: "code", callId: "call_print", code: "print(1)" },
      { type: "result", callId: "call_print", output: "1" },
    ];
    const dataURL = `data:image/png;base64,${png.base64}`;
    for (const images of [true, false]) {
      await withModel(
        variant,
        async (emulator, model) => {
          emulator.script([textStep("Plotted.")]);
          await model.step({ instructions, transcript });
          const [request] = emulator.requests;
          if (variant.api === "responses") {
            const input = responsesBody(request).input as unknown[];
            const expected: unknown[] = [
              { type: "custom_tool_call_output", call_id: "call_plot", output: "<Axes>" },
              ...(images ? [{ type: "message", role: "user", content: [{ type: "input_text", text: "Figures from the code call above:" }, { type: "input_image", detail: "auto", image_url: dataURL }] }] : []),
              { type: "custom_tool_call", call_id: "call_print", name: "python", input: "print(1)" },
            ];
            assert.deepEqual(input.slice(2, 2 + expected.length), expected);
            assert.equal(input.length, 5 + (images ? 1 : 0));
          } else {
            const messages = chatBody(request).messages;
            const expected: unknown[] = [
              { role: "tool", tool_call_id: "call_plot", content: "<Axes>" },
              ...(images ? [{ role: "user", content: [{ type: "text", text: "Figures from the code calls above:" }, { type: "image_url", image_url: { url: dataURL } }] }] : []),
            ];
            assert.deepEqual(messages.slice(3, 3 + expected.length), expected);
            assert.equal(messages.length, 6 + (images ? 1 : 0));
          }
        },
        { images },
      );
    }
  });

  test(`${name}: a wrong API key is a model_auth error naming OPENAI_API_KEY, with status and request id`, async () => {
    await withModel(
      variant,
      async (emulator, model) => {
        const error = await expectModelError(model.step({ instructions, transcript: question }), "model_auth", /rejected the API key \(401\)\. Check OPENAI_API_KEY\./);
        assert.equal(error.retryable, false);
        assert.equal(error.details["status"], 401);
        assert.match(String(error.details["requestId"]), /^req_[0-9a-f]+$/);
        assert.equal(emulator.requests.length, 1);
      },
      { apiKey: "sk-wrong-key" },
    );
  });

  test(`${name}: an unknown model is model_not_found naming THREADBOOK_MODEL`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([modelNotFoundError("gpt-test")]);
      const error = await expectModelError(model.step({ instructions, transcript: question }), "model_not_found", /The model 'gpt-test' was not found \(404\)\. Check THREADBOOK_MODEL\./);
      assert.equal(error.retryable, false);
    });
  });

  test(`${name}: a missing endpoint is model_not_found naming OPENAI_BASE_URL`, async () => {
    await withEmulator(async (emulator) => {
      const model = createModelClient(modelSettings(variant, `${emulator.baseURL}/wrong`));
      await expectModelError(model.step({ instructions, transcript: question }), "model_not_found", /no \/(responses|chat\/completions) endpoint at 127\.0\.0\.1:\d+ \(404\)\. Check OPENAI_BASE_URL/);
      const faults = emulator.takeFaults();
      assert.equal(faults.length, 1, "the emulator counts an unknown path as a fault");
      assert.match(faults[0] ?? "", /unexpected request POST \/v1\/wrong\//);
    });
  });

  test(`${name}: a service that cannot be reached is model_unavailable naming OPENAI_BASE_URL`, async () => {
    const emulator = await startOpenAIServer();
    await emulator.stop();
    const model = createModelClient(modelSettings(variant, emulator.baseURL));
    const error = await expectModelError(model.step({ instructions, transcript: question }), "model_unavailable", /Could not reach the model service at 127\.0\.0\.1:\d+\. Check OPENAI_BASE_URL/);
    assert.equal(error.retryable, true);
  });

  test(`${name}: a 429 is model_rate_limited and retryable`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([rateLimitError()]);
      const error = await expectModelError(model.step({ instructions, transcript: question }), "model_rate_limited", /rate-limiting us \(429\); try again in a minute/);
      assert.equal(error.retryable, true);
      assert.equal(error.details["code"], "rate_limit_exceeded");
    });
  });

  test(`${name}: a 500 is model_unavailable and retryable`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([serverError()]);
      const error = await expectModelError(model.step({ instructions, transcript: question }), "model_unavailable", /failed \(500\)/);
      assert.equal(error.retryable, true);
      assert.equal(error.details["status"], 500);
    });
  });

  test(`${name}: the SDK retries a 500 and the step succeeds`, async () => {
    await withModel(
      variant,
      async (emulator, model) => {
        emulator.script([errorStep(500, { message: "The server had an error.", type: "server_error", code: null, param: null }, { "retry-after-ms": "10" }), textStep("Recovered.")]);
        const step = await model.step({ instructions, transcript: question });
        assert.equal(step.text, "Recovered.");
        assert.deepEqual(emulator.requests.map((request) => request.headers["x-stainless-retry-count"]), ["0", "1"]);
      },
      { maxRetries: 1 },
    );
  });

  test(`${name}: a conversation too long is model_bad_request naming THREADBOOK_HISTORY_CHARS`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([contextLengthError()]);
      await expectModelError(model.step({ instructions, transcript: question }), "model_bad_request", /too long for model 'gpt-test'.*THREADBOOK_HISTORY_CHARS/);
    });
  });

  test(`${name}: no answer within the timeout is model_timeout naming THREADBOOK_MODEL_TIMEOUT_S`, async () => {
    const timeoutMs = 200;
    await withModel(
      variant,
      async (emulator, model) => {
        // Far longer than any load could stretch the client's timeout: the order below cannot flip.
        emulator.script([delayStep(30_000)]);
        // No figure of elapsed time: a loaded machine stretches it, and Node's timers count from a cached loop
        // clock, so even a lower bound can fail. The emulator sees the order: the client hung up first.
        const error = await expectModelError(model.step({ instructions, transcript: question }), "model_timeout", /did not answer within 0\.2 s \(THREADBOOK_MODEL_TIMEOUT_S\)/);
        assert.equal(error.retryable, true);
        assert.equal(await emulator.requests[0]?.outcome, "client hung up", "the client gave up before the server answered");
      },
      { timeoutMs },
    );
  });

  test(`${name}: aborting the request's signal stops the step`, async () => {
    await withModel(variant, async (emulator, model) => {
      const controller = new AbortController();
      // Aborts once the request has reached the model, which then takes far longer than any load could explain.
      emulator.script([
        () => {
          controller.abort();
          return delayStep(30_000);
        },
      ]);
      const error = await expectModelError(model.step({ instructions, transcript: question, signal: controller.signal }), "model_timeout", /stopped before the model answered/);
      assert.equal(error.retryable, false);
      assert.equal(await emulator.requests[0]?.outcome, "client hung up", "the abort closed the connection");
    });
  });
}

/** Text whose characters take two, three and four bytes in UTF-8, so the stream's pieces and frames cut through them. */
const multiByteText = "Le panier médian vaut 42,50 € — 中位数订单金额 📈📊 naïve café, Ünïcödé ✓";

/** Collects what a step says through onTextDelta. */
function textPieces(): { pieces: string[]; onTextDelta: (delta: string) => void } {
  const pieces: string[] = [];
  return { pieces, onTextDelta: (delta) => void pieces.push(delta) };
}

for (const api of ["responses", "chat"] as const) {
  const variant: Variant = { api, stream: true };

  test(`${api} streamed: the text arrives in pieces, in order, and joined they equal the step's text`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([textStep(multiByteText)]);
      const { pieces, onTextDelta } = textPieces();
      const step = await model.step({ instructions, transcript: question, onTextDelta });
      assert.equal(step.text, multiByteText);
      assert.ok(pieces.length > 1, `the text came in ${pieces.length} piece(s)`);
      assert.equal(pieces.join(""), step.text);
    });
  });

  test(`${api} streamed: only the answer's text is said, never the code tool's input`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([
        { type: "code", text: "Loading the file first.", calls: [{ code: "import pandas as pd" }, { code: "df = pd.read_csv('orders.csv')" }] },
        codeStep({ code: trickyCode }),
      ]);
      const first = textPieces();
      const step = await model.step({ instructions, transcript: question, onTextDelta: first.onTextDelta });
      assert.equal(step.calls.length, 2);
      assert.equal(first.pieces.join(""), "Loading the file first.");

      const second = textPieces();
      const codeOnly = await model.step({ instructions, transcript: question, onTextDelta: second.onTextDelta });
      assert.deepEqual(codeOnly.calls.map(codeOf), [trickyCode]);
      assert.deepEqual(second.pieces, [], "a step with only code says nothing");
    });
  });

  test(`${api} streamed: a refusal is said as it arrives and is the step's text`, async () => {
    await withModel(variant, async (emulator, model) => {
      const refusal = "I can’t help with that request — désolé.";
      emulator.script([refusalStep(refusal)]);
      const { pieces, onTextDelta } = textPieces();
      const step = await model.step({ instructions, transcript: question, onTextDelta });
      assert.equal(step.text, refusal);
      assert.equal(pieces.join(""), refusal);
    });
  });

  test(`${api} streamed: a callback that throws costs nothing: every piece is still offered and the step answers`, async () => {
    await withModel(variant, async (emulator, model) => {
      emulator.script([textStep(multiByteText)]);
      const pieces: string[] = [];
      const onTextDelta = (delta: string) => {
        pieces.push(delta);
        throw new Error("the progress display failed");
      };
      const step = await model.step({ instructions, transcript: question, onTextDelta });
      assert.equal(step.text, multiByteText);
      assert.equal(pieces.join(""), multiByteText);
    });
  });

  // A stream that stalls never ends by itself: should the abort not stop it, the test's timeout fails it.
  test(`${api} streamed: aborting stops a stream stalled mid-way, after the pieces that came`, { timeout: 20_000 }, async () => {
    await withModel(variant, async (emulator, model) => {
      const sent = 3;
      emulator.script([stallStep(textStep(multiByteText), sent)]);
      const controller = new AbortController();
      const pieces: string[] = [];
      const { promise: allSent, resolve } = Promise.withResolvers<void>();
      const onTextDelta = (delta: string) => {
        pieces.push(delta);
        if (pieces.length === sent) resolve();
      };
      const step = model.step({ instructions, transcript: question, signal: controller.signal, onTextDelta });
      // The step cannot end before the abort: its stream has stalled.
      await Promise.race([allSent, step.then(() => assert.fail("the step ended though its stream stalled"))]);
      controller.abort();
      await expectModelError(step, "model_timeout", /stopped before the model answered/);
      assert.equal(pieces.join(""), deltas(multiByteText).slice(0, sent).join(""));
      assert.equal(await emulator.requests[0]?.outcome, "client hung up");
    });
  });
}

for (const api of ["responses", "chat"] as const) {
  test(`${api}: without streaming, onTextDelta is never called`, async () => {
    await withModel({ api, stream: false }, async (emulator, model) => {
      emulator.script([textStep(multiByteText)]);
      const { pieces, onTextDelta } = textPieces();
      assert.equal((await model.step({ instructions, transcript: question, onTextDelta })).text, multiByteText);
      assert.deepEqual(pieces, []);
    });
  });
}

test("messagesSink: the texts of several messages are said with the separator between them, empty ones left out", () => {
  const said: string[] = [];
  const say = messagesSink(textSink((delta) => void said.push(delta)), "\n\n");
  say("message_1", "First ");
  say("message_1", "part.");
  say("message_2", "");
  say("message_3", "Second.");
  say("message_4", "Third.");
  assert.deepEqual(said, ["First ", "part.", "\n\n", "Second.", "\n\n", "Third."]);
});

for (const stream of [false, true]) {
  test(`chat${stream ? " streamed" : ""}: arguments that are raw Python instead of JSON are taken as the code`, async () => {
    await withModel({ api: "chat", stream }, async (emulator, model) => {
      const raw = 'print("hello")\nx = {"code": 1}';
      emulator.script([codeStep({ code: raw, rawArguments: raw }), codeStep({ code: "", rawArguments: '{"code": 42}' })]);
      assert.deepEqual((await model.step({ instructions, transcript: question })).calls.map(codeOf), [raw]);
      assert.deepEqual((await model.step({ instructions, transcript: question })).calls.map(codeOf), ['{"code": 42}']);
    });
  });
}

test("model errors: the key the real API echoes in a 401, masked, is masked further in details", async () => {
  await withModel({ api: "responses", stream: false }, async (emulator, model) => {
    emulator.script([invalidApiKeyError()]);
    const error = await expectModelError(model.step({ instructions, transcript: question }), "model_auth", /Check OPENAI_API_KEY/);
    assert.match(String(error.details["serverMessage"]), /Incorrect API key provided: sk-\[redacted\]\./);
    assert.equal(error.details["code"], "invalid_api_key");
  });
});

test("model errors: a 403 names the key and the model; a 503 is retryable; an exhausted quota is not", async () => {
  await withModel({ api: "chat", stream: false }, async (emulator, model) => {
    emulator.script([
      errorStep(403, { message: "Project does not have access to model gpt-test.", type: "invalid_request_error", code: "model_not_found", param: null }),
      serverError(503),
      errorStep(429, { message: "You exceeded your current quota.", type: "insufficient_quota", code: "insufficient_quota", param: null }),
    ]);
    await expectModelError(model.step({ instructions, transcript: question }), "model_auth", /denied this API key access to model 'gpt-test' \(403\)\. Check OPENAI_API_KEY and THREADBOOK_MODEL\./);
    assert.equal((await expectModelError(model.step({ instructions, transcript: question }), "model_unavailable", /\(503\)/)).retryable, true);
    assert.equal((await expectModelError(model.step({ instructions, transcript: question }), "model_rate_limited", /out of quota/)).retryable, false);
  });
});

test("emulator: a model call with an empty script fails loudly, once, and assertDone reports it", async () => {
  await withEmulator(async (emulator) => {
    const model = createModelClient(modelSettings({ api: "responses", stream: false }, emulator.baseURL, { maxRetries: 2 }));
    await expectModelError(model.step({ instructions, transcript: question }), "model_unavailable", /500/);
    assert.equal(emulator.requests.length, 1, "the SDK is told not to retry the emulator's own fault");
    assert.throws(() => emulator.assertDone(), /unexpected model call/);
    assert.match(emulator.takeFaults().join("\n"), /unexpected model call #1 to \/v1\/responses: the script is empty/);
  });
});

test("emulator: steps left unplayed fail assertDone, and so the harness's teardown", async () => {
  await withEmulator(async (emulator) => {
    emulator.script([textStep("one"), textStep("two")]);
    const model = createModelClient(modelSettings({ api: "chat", stream: false }, emulator.baseURL));
    assert.equal((await model.step({ instructions, transcript: question })).text, "one");
    assert.throws(() => emulator.assertDone(), /1 scripted step\(s\) were never played/);
    assert.equal((await model.step({ instructions, transcript: question })).text, "two");
  });
  await assert.rejects(
    withModel({ api: "chat", stream: true }, async (emulator, model) => {
      emulator.script([textStep("one"), textStep("two")]);
      await model.step({ instructions, transcript: question });
    }),
    /1 scripted step\(s\) were never played/,
  );
});

test("emulator: a scripted call of a tool the request did not declare is a fault", async () => {
  await withEmulator(async (emulator) => {
    emulator.script([codeStep({ code: "ls", name: "shell" })]);
    const model = createModelClient(modelSettings({ api: "responses", stream: true }, emulator.baseURL));
    await expectModelError(model.step({ instructions, transcript: question }), "model_unavailable", /500/);
    assert.throws(() => emulator.assertDone(), /tool 'shell', which request #1 did not declare/);
    assert.equal(emulator.takeFaults().length, 1);
  });
});

for (const api of ["responses", "chat"] as const) {
  test(`emulator (${api}): a scripted proposal for a request that did not offer the proposal tool is a fault`, async () => {
    await withEmulator(async (emulator) => {
      emulator.script([codeStep(proposeCall(proposal))]);
      const model = createModelClient(modelSettings({ api, stream: false }, emulator.baseURL));
      await expectModelError(model.step({ instructions, transcript: question }), "model_unavailable", /500/);
      assert.match(emulator.takeFaults().join("\n"), /tool 'propose_skill', which request #1 did not declare/);
    });
  });
}

test("emulator: a stalled stream scripted for a request that does not stream is a fault", async () => {
  await withEmulator(async (emulator) => {
    emulator.script([stallStep(textStep("never sent"), 1)]);
    const model = createModelClient(modelSettings({ api: "chat", stream: false }, emulator.baseURL));
    await expectModelError(model.step({ instructions, transcript: question }), "model_unavailable", /500/);
    assert.match(emulator.takeFaults().join("\n"), /stalled stream for request #1, which did not ask to stream/);
  });
});

test("emulator: a step may be a function of the request it answers", async () => {
  await withModel({ api: "responses", stream: false }, async (emulator, model) => {
    emulator.script([(request) => textStep(`You sent ${(request.body["input"] as unknown[]).length} item(s).`)]);
    assert.equal((await model.step({ instructions, transcript: question })).text, "You sent 1 item(s).");
  });
});

test("createModelClient: no API key for a remote service is a model_auth error", () => {
  for (const baseURL of [undefined, "https://api.x.ai/v1"]) {
    assert.throws(
      () => createModelClient({ apiKey: undefined, baseURL, name: "gpt-test", api: "responses", stream: false, images: true, timeoutMs: 10_000, maxRetries: 0 }),
      (error: unknown) => error instanceof ModelError && error.code === "model_auth" && /OPENAI_API_KEY is not set/.test(error.message),
    );
  }
});

test("createModelClient: no API key for a local server still works, with a placeholder key", async () => {
  await withEmulator(async (emulator) => {
    emulator.script([textStep("Local answer.")]);
    const model = createModelClient(modelSettings({ api: "chat", stream: false }, emulator.baseURL, { apiKey: undefined, name: "llama3", images: false }));
    assert.equal(model.description, "chat:llama3");
    assert.equal((await model.step({ instructions, transcript: question })).text, "Local answer.");
    assert.match(String(emulator.requests[0]?.headers.authorization), /^Bearer \S+$/);
  });
});
