/**
 * ModelClient over Chat Completions, for OpenAI-compatible servers without
 * the Responses API (xAI, Ollama, vLLM, Azure). The code tool is a function
 * tool taking `{"code": "..."}`, the proposal tool a second function tool;
 * the instructions are the system message and each call's result is a
 * `tool` message. Several calls in one answer (parallel tool calls) are
 * each run in order and answered by their ids. Reasoning items, a Responses
 * API thing, are not sent. As on Responses, the fixed fields come first and
 * the messages last, so consecutive steps share the longest prefix.
 */
import { randomUUID } from "node:crypto";
import type OpenAI from "openai";
import type {
  ChatCompletion,
  ChatCompletionAssistantMessageParam,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionFunctionTool,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import type { Config } from "../../config.ts";
import { ModelError } from "../../errors.ts";
import { silentLogger, type Logger } from "../../log.ts";
import {
  CODE_TOOL_NAME,
  PROPOSE_SKILL_TOOL_NAME,
  type ImageInput,
  type ModelClient,
  type ModelRequest,
  type ModelStep,
  type ToolCall,
  type TranscriptItem,
} from "./model-client.ts";
import { toModelError, type ModelErrorContext } from "./model-errors.ts";
import { OptionalFields } from "./optional-fields.ts";
import { proposeSkillDescription, proposeSkillParameters } from "./propose-skill-tool.ts";
import { textSink } from "./text-deltas.ts";
import { usageOf } from "./token-counts.ts";

export type ChatClientSettings = Pick<Config["model"], "name" | "stream" | "images" | "timeoutMs" | "baseURL" | "reasoningEffort">;

const codeTool: ChatCompletionFunctionTool = {
  type: "function",
  function: {
    name: CODE_TOOL_NAME,
    description:
      "Runs Python in this conversation's persistent session, like a notebook cell. Variables, imports and files " +
      "persist between calls. The result holds stdout, stderr, the value of the last expression and any traceback; " +
      "open matplotlib figures come back as images.",
    parameters: {
      type: "object",
      properties: { code: { type: "string", description: "The Python source to run." } },
      required: ["code"],
      additionalProperties: false,
    },
  },
};

/**
 * The schema is written for strict mode (every property required, nothing
 * else allowed) but the tool is not marked `strict`: several compatible
 * servers reject or ignore the flag, and on a strict tool the SDK's stream
 * helper throws on arguments that are not JSON, which would end the turn
 * instead of telling the model what to fix.
 */
const proposeSkillTool: ChatCompletionFunctionTool = {
  type: "function",
  function: { name: PROPOSE_SKILL_TOOL_NAME, description: proposeSkillDescription, parameters: proposeSkillParameters },
};

/** Said beside the figures, which travel in a user message because a tool message holds text only. */
const figuresNote = "Figures from the code calls above:";

export class ChatClient implements ModelClient {
  readonly description: string;
  #client: OpenAI;
  #settings: ChatClientSettings;
  #errorContext: ModelErrorContext;
  #optional: OptionalFields;

  constructor(client: OpenAI, settings: ChatClientSettings, logger: Logger = silentLogger) {
    this.#client = client;
    this.#settings = settings;
    this.description = `chat:${settings.name}`;
    this.#errorContext = { api: "chat", model: settings.name, timeoutMs: settings.timeoutMs, baseURL: settings.baseURL };
    this.#optional = new OptionalFields({ prompt_cache_key: "requests are not routed to one prompt cache per conversation" }, logger);
  }

  async step(request: ModelRequest): Promise<ModelStep> {
    // Each pass leaves out one more field the server rejected, so this ends.
    for (;;) {
      const body = this.#body(request);
      try {
        const completion = this.#settings.stream
          ? await this.#streamCompletion(body, request)
          : await this.#client.chat.completions.create(body, { signal: request.signal });
        return toModelStep(completion, this.#settings.name);
      } catch (error) {
        if (this.#optional.rejectedBy(error, body) !== null) continue;
        throw toModelError(error, this.#errorContext);
      }
    }
  }

  /**
   * No tool_choice or parallel_tool_calls: "auto" and parallel calls are the
   * defaults, and some compatible servers reject fields they lack; the
   * reasoning effort goes only where the settings ask for it.
   */
  #body(request: ModelRequest): ChatCompletionCreateParamsNonStreaming {
    const effort = this.#settings.reasoningEffort;
    return {
      model: this.#settings.name,
      tools: request.proposeSkill === true ? [codeTool, proposeSkillTool] : [codeTool],
      ...(effort === undefined ? {} : { reasoning_effort: effort }),
      ...(request.cacheKey !== undefined && this.#optional.accepted("prompt_cache_key") ? { prompt_cache_key: request.cacheKey } : {}),
      messages: toMessages(request.instructions, request.transcript, this.#settings.images),
    };
  }

  /**
   * Streams the completion, saying the first choice's content (or its
   * refusal) as it arrives; tool call arguments are never said. The step is
   * still built from the completion the SDK assembles.
   */
  async #streamCompletion(body: Omit<ChatCompletionCreateParamsNonStreaming, "stream">, request: ModelRequest): Promise<ChatCompletion> {
    const { messages, ...fixed } = body;
    // include_usage adds a last chunk with the usage; the messages stay last, after it.
    const stream = this.#client.chat.completions.stream({ ...fixed, stream_options: { include_usage: true }, messages }, { signal: request.signal });
    if (request.onTextDelta !== undefined) {
      const say = textSink(request.onTextDelta);
      stream.on("chunk", (chunk) => {
        const delta = chunk.choices.find((choice) => choice.index === 0)?.delta;
        // A model sends content or, when it declines, a refusal instead: never both.
        say(delta?.content ?? "");
        say(delta?.refusal ?? "");
      });
    }
    return await stream.finalChatCompletion();
  }
}

function toMessages(instructions: string, transcript: TranscriptItem[], images: boolean): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [{ role: "system", content: instructions }];
  // Code calls join the assistant message before them, as the model sent them.
  let assistant: ChatCompletionAssistantMessageParam | undefined;
  // Figures wait until the run of tool messages ends: nothing may come between
  // an assistant's tool calls and their tool messages.
  let figures: ImageInput[] = [];
  for (const item of transcript) {
    if (item.type !== "result" && item.type !== "reasoning" && figures.length > 0) {
      messages.push(figuresMessage(figures));
      figures = [];
    }
    switch (item.type) {
      case "reasoning":
        break;
      case "user":
        messages.push({ role: "user", content: item.text });
        assistant = undefined;
        break;
      case "assistant":
        assistant = { role: "assistant", content: item.text };
        messages.push(assistant);
        break;
      case "code":
      case "proposal": {
        if (assistant === undefined) {
          assistant = { role: "assistant", content: null };
          messages.push(assistant);
        }
        const call =
          item.type === "code"
            ? { name: CODE_TOOL_NAME, arguments: JSON.stringify({ code: item.code }) }
            : { name: PROPOSE_SKILL_TOOL_NAME, arguments: item.arguments };
        (assistant.tool_calls ??= []).push({ id: item.callId, type: "function", function: call });
        break;
      }
      case "result":
        messages.push({ role: "tool", tool_call_id: item.callId, content: item.output });
        assistant = undefined;
        if (images && item.images !== undefined) figures.push(...item.images);
        break;
    }
  }
  if (figures.length > 0) messages.push(figuresMessage(figures));
  return messages;
}

function figuresMessage(figures: ImageInput[]): ChatCompletionMessageParam {
  return {
    role: "user",
    content: [
      { type: "text", text: figuresNote },
      ...figures.map((image) => ({ type: "image_url" as const, image_url: { url: `data:${image.mediaType};base64,${image.base64}` } })),
    ],
  };
}

function toModelStep(completion: ChatCompletion, model: string): ModelStep {
  const choice = completion.choices[0];
  const details = { completionId: completion.id, finishReason: choice?.finish_reason };
  if (choice === undefined) {
    throw new ModelError("model_bad_response", "The model service sent an answer with no choices.", { details });
  }
  if (choice.finish_reason === "length") {
    throw new ModelError("model_bad_response", "The model's answer was cut off at its output limit.", { details });
  }
  if (choice.finish_reason === "content_filter") {
    throw new ModelError("model_bad_response", "The model service withheld the answer (content filter).", { details });
  }
  const calls: ToolCall[] = [];
  for (const call of choice.message.tool_calls ?? []) {
    // Some servers leave the id out; the tool message needs one to point back.
    const callId = call.id || `call_${randomUUID()}`;
    if (call.type === "function" && call.function.name === PROPOSE_SKILL_TOOL_NAME) {
      calls.push({ type: "proposal", callId, arguments: call.function.arguments });
    } else if (call.type === "function") {
      calls.push({ type: "code", callId, code: codeFromArguments(call.function.arguments) });
    } else {
      calls.push({ type: "code", callId, code: call.custom.input });
    }
  }
  const text = choice.message.content ?? choice.message.refusal ?? "";
  const usage = completion.usage;
  return {
    text,
    calls,
    items: [...(text === "" ? [] : [{ type: "assistant" as const, text }]), ...calls],
    usage: usageOf({
      input: usage?.prompt_tokens,
      cachedInput: usage?.prompt_tokens_details?.cached_tokens,
      output: usage?.completion_tokens,
      reasoning: usage?.completion_tokens_details?.reasoning_tokens,
    }),
    model,
  };
}

/** `{"code": "..."}` as asked; some servers send the Python itself as the arguments, which is taken as is. */
function codeFromArguments(argumentsText: string): string {
  try {
    const parsed: unknown = JSON.parse(argumentsText);
    if (typeof parsed === "object" && parsed !== null && "code" in parsed && typeof parsed.code === "string") return parsed.code;
  } catch {
    // Not JSON: the Python itself.
  }
  return argumentsText;
}
