/**
 * ModelClient over the OpenAI Responses API. The code tool is a freeform
 * `custom` tool, so the model writes raw Python with no JSON escaping; the
 * proposal tool is a `function` tool with a strict schema. The request is
 * stateless (`store: false`): every step sends the whole transcript as input
 * items, each call with its result in its own tool's item types, and each
 * reasoning item back in place with its encrypted content (asked for with
 * `include`), so a reasoning model carries its thinking from cell to cell.
 *
 * The body is built so that each step's request repeats the previous one as
 * an unchanged prefix, which a provider's prompt cache can reuse: the fixed
 * fields first, the instructions (the same all turn), then the input last,
 * where new items are appended.
 */
import type OpenAI from "openai";
import type {
  CustomTool,
  FunctionTool,
  Response,
  ResponseCreateParamsNonStreaming,
  ResponseInputItem,
} from "openai/resources/responses/responses";
import type { Config } from "../../config.ts";
import { ModelError } from "../../errors.ts";
import { silentLogger, type Logger } from "../../log.ts";
import {
  CODE_TOOL_NAME,
  PROPOSE_SKILL_TOOL_NAME,
  type ModelClient,
  type ModelRequest,
  type ModelStep,
  type ToolCall,
  type TranscriptItem,
} from "./model-client.ts";
import { toModelError, type ModelErrorContext } from "./model-errors.ts";
import { OptionalFields } from "./optional-fields.ts";
import { proposeSkillDescription, proposeSkillParameters } from "./propose-skill-tool.ts";
import { ENCRYPTED_REASONING, readReasoningItem, reasoningInput, sendable, withoutTrailingReasoning } from "./reasoning-items.ts";
import { messagesSink, textSink } from "./text-deltas.ts";
import { usageOf } from "./token-counts.ts";

export type ResponsesClientSettings = Pick<Config["model"], "name" | "stream" | "images" | "timeoutMs" | "baseURL" | "reasoningEffort" | "verbosity">;

const codeTool: CustomTool = {
  type: "custom",
  name: CODE_TOOL_NAME,
  description:
    "Runs Python in this conversation's persistent session, like a notebook cell. Send plain Python source, " +
    "not JSON and not a Markdown fence. Variables, imports and files persist between calls. The result holds " +
    "stdout, stderr, the value of the last expression and any traceback; open matplotlib figures come back as images.",
};

/**
 * Strict: the model's arguments always match the schema. (A server that is
 * not strict and sends arguments that are not JSON fails a streamed step in
 * the SDK, as a bad response.)
 */
const proposeSkillTool: FunctionTool = {
  type: "function",
  name: PROPOSE_SKILL_TOOL_NAME,
  description: proposeSkillDescription,
  parameters: proposeSkillParameters,
  strict: true,
};

/** Said beside the figures, which travel in a user message because a tool output is text here. */
const figuresNote = "Figures from the code call above:";

/** Between the texts of two messages in one response. */
const messageSeparator = "\n\n";

export class ResponsesClient implements ModelClient {
  readonly description: string;
  #client: OpenAI;
  #settings: ResponsesClientSettings;
  #errorContext: ModelErrorContext;
  #optional: OptionalFields;

  constructor(client: OpenAI, settings: ResponsesClientSettings, logger: Logger = silentLogger) {
    this.#client = client;
    this.#settings = settings;
    this.description = `responses:${settings.name}`;
    this.#errorContext = { api: "responses", model: settings.name, timeoutMs: settings.timeoutMs, baseURL: settings.baseURL };
    this.#optional = new OptionalFields(
      { include: "the model's reasoning is not carried from one step to the next", prompt_cache_key: "requests are not routed to one prompt cache per conversation" },
      logger,
    );
  }

  async step(request: ModelRequest): Promise<ModelStep> {
    // Each pass leaves out one more field the server rejected, so this ends.
    for (;;) {
      const body = this.#body(request);
      try {
        const response = this.#settings.stream
          ? await this.#streamResponse(body, request)
          : await this.#client.responses.create(body, { signal: request.signal });
        return toModelStep(response, this.#settings.name);
      } catch (error) {
        if (this.#optional.rejectedBy(error, body) !== null) continue;
        throw toModelError(error, this.#errorContext);
      }
    }
  }

  /** Fixed fields first and the growing input last, so consecutive steps share the longest prefix. */
  #body(request: ModelRequest): ResponseCreateParamsNonStreaming {
    const { reasoningEffort, verbosity } = this.#settings;
    const optional = this.#optional;
    return {
      model: this.#settings.name,
      tools: request.proposeSkill === true ? [codeTool, proposeSkillTool] : [codeTool],
      tool_choice: "auto",
      parallel_tool_calls: false,
      store: false,
      ...(optional.accepted("include") ? { include: [ENCRYPTED_REASONING] } : {}),
      ...(reasoningEffort === undefined ? {} : { reasoning: { effort: reasoningEffort } }),
      ...(verbosity === undefined ? {} : { text: { verbosity } }),
      ...(request.cacheKey !== undefined && optional.accepted("prompt_cache_key") ? { prompt_cache_key: request.cacheKey } : {}),
      instructions: request.instructions,
      input: toInput(request.transcript, this.#settings.images, this.#settings.name),
    };
  }

  /**
   * Streams the response, saying the messages' text (output text and
   * refusals) as it arrives; the code tool's input is never said. The step is
   * still built from the final response the SDK assembles.
   */
  async #streamResponse(body: Omit<ResponseCreateParamsNonStreaming, "stream">, request: ModelRequest): Promise<Response> {
    const stream = this.#client.responses.stream(body, { signal: request.signal });
    if (request.onTextDelta !== undefined) {
      const say = messagesSink(textSink(request.onTextDelta), messageSeparator);
      stream.on("response.output_text.delta", (event) => say(event.item_id, event.delta));
      stream.on("response.refusal.delta", (event) => say(event.item_id, event.delta));
    }
    return await stream.finalResponse();
  }
}

function toInput(transcript: TranscriptItem[], images: boolean, model: string): ResponseInputItem[] {
  const input: ResponseInputItem[] = [];
  // A result answers a custom tool call or a function call by its id, each with its own output type.
  const proposalCalls = new Set(transcript.flatMap((item) => (item.type === "proposal" ? [item.callId] : [])));
  for (const [index, item] of transcript.entries()) {
    switch (item.type) {
      case "reasoning":
        if (sendable(item, transcript[index + 1], model)) input.push(reasoningInput(item));
        break;
      case "user":
        input.push({ type: "message", role: "user", content: item.text });
        break;
      case "assistant":
        input.push({ type: "message", role: "assistant", content: item.text });
        break;
      case "code":
        input.push({ type: "custom_tool_call", call_id: item.callId, name: CODE_TOOL_NAME, input: item.code });
        break;
      case "proposal":
        input.push({ type: "function_call", call_id: item.callId, name: PROPOSE_SKILL_TOOL_NAME, arguments: item.arguments });
        break;
      case "result":
        if (proposalCalls.has(item.callId)) {
          input.push({ type: "function_call_output", call_id: item.callId, output: item.output });
          break;
        }
        input.push({ type: "custom_tool_call_output", call_id: item.callId, output: item.output });
        if (images && item.images !== undefined && item.images.length > 0) {
          input.push({
            type: "message",
            role: "user",
            content: [
              { type: "input_text", text: figuresNote },
              ...item.images.map((image) => ({
                type: "input_image" as const,
                detail: "auto" as const,
                image_url: `data:${image.mediaType};base64,${image.base64}`,
              })),
            ],
          });
        }
        break;
    }
  }
  return input;
}

function toModelStep(response: Response, model: string): ModelStep {
  const details = { responseId: response.id, status: response.status };
  if (response.status === "failed") {
    const reason = response.error?.message ?? "no reason given";
    throw new ModelError("model_unavailable", `The model failed while answering: ${reason}`, { retryable: true, details: { ...details, code: response.error?.code } });
  }
  if (response.status === "incomplete") {
    const reason = response.incomplete_details?.reason ?? "no reason given";
    throw new ModelError("model_bad_response", `The model stopped before finishing its answer (${reason}).`, { details });
  }
  const texts: string[] = [];
  const calls: ToolCall[] = [];
  const items: TranscriptItem[] = [];
  for (const item of response.output) {
    if (item.type === "message") {
      const text = item.content.map((part) => (part.type === "output_text" ? part.text : part.refusal)).join("");
      if (text.length === 0) {
        // The transcript keeps no empty message, so the reasoning before it would be followed by another item.
        if (items.at(-1)?.type === "reasoning") items.pop();
        continue;
      }
      texts.push(text);
      items.push({ type: "assistant", text });
    } else if (item.type === "custom_tool_call") {
      calls.push({ type: "code", callId: item.call_id, code: item.input });
      items.push(calls.at(-1) as ToolCall);
    } else if (item.type === "function_call" && item.name === PROPOSE_SKILL_TOOL_NAME) {
      calls.push({ type: "proposal", callId: item.call_id, arguments: item.arguments });
      items.push(calls.at(-1) as ToolCall);
    } else if (item.type === "reasoning") {
      const reasoning = readReasoningItem(item, model);
      if (reasoning !== null) items.push(reasoning);
    }
  }
  const usage = response.usage;
  return {
    text: texts.join(messageSeparator),
    calls,
    items: withoutTrailingReasoning(items),
    usage: usageOf({
      input: usage?.input_tokens,
      cachedInput: usage?.input_tokens_details?.cached_tokens,
      output: usage?.output_tokens,
      reasoning: usage?.output_tokens_details?.reasoning_tokens,
    }),
    model,
  };
}
