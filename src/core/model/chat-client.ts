/**
 * ModelClient over Chat Completions, for OpenAI-compatible servers without
 * the Responses API (xAI, Ollama, vLLM, Azure). The code tool is a function
 * tool taking `{"code": "..."}`, the proposal tool a second function tool;
 * the instructions are the system message and each call's result is a
 * `tool` message.
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
import { proposeSkillDescription, proposeSkillParameters } from "./propose-skill-tool.ts";
import { textSink } from "./text-deltas.ts";

export type ChatClientSettings = Pick<Config["model"], "name" | "stream" | "images" | "timeoutMs" | "baseURL">;

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

  constructor(client: OpenAI, settings: ChatClientSettings) {
    this.#client = client;
    this.#settings = settings;
    this.description = `chat:${settings.name}`;
    this.#errorContext = { api: "chat", model: settings.name, timeoutMs: settings.timeoutMs, baseURL: settings.baseURL };
  }

  async step(request: ModelRequest): Promise<ModelStep> {
    const body = {
      model: this.#settings.name,
      messages: toMessages(request.instructions, request.transcript, this.#settings.images),
      // No tool_choice or parallel_tool_calls: "auto" is the default, and some compatible servers reject fields they lack.
      tools: request.proposeSkill === true ? [codeTool, proposeSkillTool] : [codeTool],
    } satisfies ChatCompletionCreateParamsNonStreaming;
    try {
      const completion = this.#settings.stream
        ? await this.#streamCompletion(body, request)
        : await this.#client.chat.completions.create(body, { signal: request.signal });
      return toModelStep(completion);
    } catch (error) {
      throw toModelError(error, this.#errorContext);
    }
  }

  /**
   * Streams the completion, saying the first choice's content (or its
   * refusal) as it arrives; tool call arguments are never said. The step is
   * still built from the completion the SDK assembles.
   */
  async #streamCompletion(body: Omit<ChatCompletionCreateParamsNonStreaming, "stream">, request: ModelRequest): Promise<ChatCompletion> {
    // include_usage adds a last chunk with the usage, which a stream otherwise lacks.
    const stream = this.#client.chat.completions.stream({ ...body, stream_options: { include_usage: true } }, { signal: request.signal });
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
    if (item.type !== "result" && figures.length > 0) {
      messages.push(figuresMessage(figures));
      figures = [];
    }
    switch (item.type) {
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

function toModelStep(completion: ChatCompletion): ModelStep {
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
  return {
    text: choice.message.content ?? choice.message.refusal ?? "",
    calls,
    usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
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
