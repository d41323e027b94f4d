/**
 * The steps an emulated model plays, one per model call, and helpers that
 * build them. A step says what the model does; the wire modules say how the
 * Responses and Chat Completions APIs put it on the wire.
 */
import type { IncomingHttpHeaders } from "node:http";

export type EmulatedApi = "responses" | "chat";

/** One request as it reached the emulator. */
export interface RecordedRequest {
  api: EmulatedApi;
  path: string;
  /** Header names are lower-case, as node:http gives them. */
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; cast it to the SDK's parameter type to read it. */
  body: Record<string, unknown>;
  /** The body as it came, byte for byte. */
  bodyText: string;
  stream: boolean;
  /**
   * How the exchange ended: the emulator finished its answer, or the client
   * closed the connection first (its timeout fired, or its signal aborted).
   */
  outcome: Promise<"answered" | "client hung up">;
}

export interface ScriptedUsage {
  inputTokens: number;
  outputTokens: number;
  /** Part of inputTokens; by default what the prompt cache holds (openai-prompt-cache.ts). */
  cachedInputTokens?: number;
  /** Part of outputTokens; 0 by default. */
  reasoningTokens?: number;
}

export interface ScriptedCall {
  code: string;
  /** Defaults to a fresh `call_…` id. */
  callId?: string;
  /** Defaults to "python"; the emulator fails loudly when the request declared no such tool. */
  name?: string;
  /** Chat only: sent verbatim as `function.arguments` instead of `{"code": …}`, as lax servers do. */
  rawArguments?: string;
}

/** What the model passes the proposal tool. */
export interface ScriptedProposal {
  name: string;
  description: string;
  instructions: string;
  files: { path: string; content: string }[];
}

/**
 * A call of the `propose_skill` function tool: a `function_call` item on the
 * Responses wire, a function tool call on the Chat wire. The emulator fails
 * loudly when the request did not declare that tool.
 */
export interface ScriptedProposeCall {
  propose: ScriptedProposal;
  /** Defaults to a fresh `call_…` id. */
  callId?: string;
  /** Sent verbatim as the arguments instead of the proposal's JSON: to script malformed arguments. */
  rawArguments?: string;
}

export type ScriptedToolCall = ScriptedCall | ScriptedProposeCall;

export const PROPOSE_SKILL_TOOL = "propose_skill";

export function isProposeCall(call: ScriptedToolCall): call is ScriptedProposeCall {
  return "propose" in call;
}

/** The tool the call is of, as the request must declare it. */
export function toolNameOf(call: ScriptedToolCall): string {
  return isProposeCall(call) ? PROPOSE_SKILL_TOOL : (call.name ?? "python");
}

/** The arguments a proposal call carries on the wire. */
export function proposeArguments(call: ScriptedProposeCall): string {
  return call.rawArguments ?? JSON.stringify(call.propose);
}

/** The body of an OpenAI error response: `{"error": {...}}`. */
export interface ApiErrorBody {
  message: string;
  type: string;
  code: string | null;
  param: string | null;
}

export type ScriptedStep =
  | { type: "text"; text: string; usage?: ScriptedUsage }
  /** Tool calls (code, or proposals), in order, with optional text before them. */
  | { type: "code"; calls: ScriptedToolCall[]; text?: string; usage?: ScriptedUsage }
  /** The model declines: Responses sends a `refusal` content part, Chat a `refusal` instead of content. */
  | { type: "refusal"; refusal: string; usage?: ScriptedUsage }
  | { type: "error"; status: number; error: ApiErrorBody; headers?: Record<string, string> }
  | { type: "delay"; ms: number; then: ScriptedStep }
  /** Answers with `then` once `until` settles: a test holds a model step until something else has happened. After `limitMs` it is a fault. */
  | { type: "hold"; until: Promise<unknown>; limitMs: number; then: ScriptedStep }
  /**
   * Streams `then` up to its `afterTextDeltas`-th piece of text, then sends
   * nothing more until the client hangs up; after `limitMs` without that, it
   * breaks the connection off and counts a fault.
   */
  | { type: "stall"; afterTextDeltas: number; then: AnswerStep; limitMs: number };

/** A step that answers with a model's output. */
export type AnswerStep = Extract<ScriptedStep, { type: "text" | "code" | "refusal" }>;

/** A step, or a function that picks one from the request it answers. */
export type ScriptEntry = ScriptedStep | ((request: RecordedRequest) => ScriptedStep);

export function textStep(text: string, usage?: ScriptedUsage): AnswerStep {
  return usage ? { type: "text", text, usage } : { type: "text", text };
}

export function codeStep(...calls: (string | ScriptedToolCall)[]): AnswerStep {
  return { type: "code", calls: calls.map((call) => (typeof call === "string" ? { code: call } : call)) };
}

/** A call of `propose_skill`, for codeStep (alone or beside code calls). */
export function proposeCall(proposal: ScriptedProposal, options: { callId?: string; rawArguments?: string } = {}): ScriptedProposeCall {
  return { propose: proposal, ...options };
}

export function errorStep(status: number, error: ApiErrorBody, headers?: Record<string, string>): ScriptedStep {
  return headers ? { type: "error", status, error, headers } : { type: "error", status, error };
}

/** Holds the step until `until` settles (at most `limitMs`, then a fault). */
export function holdStep(until: Promise<unknown>, then: ScriptedStep, limitMs = 30_000): ScriptedStep {
  return { type: "hold", until, limitMs, then };
}

export function refusalStep(refusal: string): AnswerStep {
  return { type: "refusal", refusal };
}

/** A stream that stops mid-way, after some of the text, as a model stalled or a connection gone quiet; streamed requests only. */
export function stallStep(then: AnswerStep, afterTextDeltas: number, limitMs = 10_000): ScriptedStep {
  return { type: "stall", afterTextDeltas, then, limitMs };
}

/** Waits before answering with `then`; longer than the client's timeout, it makes the client give up. */
export function delayStep(ms: number, then: ScriptedStep = textStep("(late answer)")): ScriptedStep {
  return { type: "delay", ms, then };
}

// The bodies below copy the real API's wording and codes.

export function invalidApiKeyError(): ScriptedStep {
  return errorStep(401, {
    message: "Incorrect API key provided: sk-wron*****-key. You can find your API key at https://platform.openai.com/account/api-keys.",
    type: "invalid_request_error",
    code: "invalid_api_key",
    param: null,
  });
}

export function modelNotFoundError(model: string): ScriptedStep {
  return errorStep(404, {
    message: `The model \`${model}\` does not exist or you do not have access to it.`,
    type: "invalid_request_error",
    code: "model_not_found",
    param: null,
  });
}

/** A 429 as the real API sends it; `headers` adds e.g. its `retry-after` or `retry-after-ms`. */
export function rateLimitError(headers?: Record<string, string>): ScriptedStep {
  return errorStep(
    429,
    {
      message: "Rate limit reached for gpt-5.1 on tokens per min (TPM): Limit 30000, Used 29500, Requested 900. Please try again in 1.2s.",
      type: "tokens",
      code: "rate_limit_exceeded",
      param: null,
    },
    headers,
  );
}

export function serverError(status = 500): ScriptedStep {
  return errorStep(status, {
    message: "The server had an error while processing your request. Sorry about that!",
    type: "server_error",
    code: null,
    param: null,
  });
}

export function contextLengthError(): ScriptedStep {
  return errorStep(400, {
    message: "Your input exceeds the context window of this model. Please adjust your input and try again.",
    type: "invalid_request_error",
    code: "context_length_exceeded",
    param: "input",
  });
}

/** Usage the step names, or a rough count of four characters a token. */
export function usageFor(request: RecordedRequest, step: AnswerStep): ScriptedUsage {
  if (step.usage) return step.usage;
  const input = promptText(request);
  const output =
    step.type === "text"
      ? step.text
      : step.type === "refusal"
        ? step.refusal
        : (step.text ?? "") + step.calls.map((call) => (isProposeCall(call) ? proposeArguments(call) : call.code)).join("");
  return { inputTokens: Math.ceil(input.length / 4), outputTokens: Math.ceil(output.length / 4) + 1 };
}

/**
 * What the model reads, in the order it reads it, whatever the body's key
 * order: the tools, the instructions, then the input items or messages.
 */
export function promptText(request: RecordedRequest): string {
  const body = request.body;
  return JSON.stringify([body["tools"] ?? [], body["instructions"] ?? "", body["input"] ?? body["messages"] ?? ""]);
}

export interface ServerSentEvent {
  /** Responses streams name each event (`event: response.created`); Chat streams do not. */
  event?: string;
  /** JSON-encoded on the wire; a string is sent as is (`[DONE]`). */
  data: unknown;
  /** Not sent: marks an event carrying a piece of the answer's text (or refusal), where a stall step may stop. */
  carriesText?: boolean;
}

/** Cuts text into small pieces, never inside a code point, as a streamed model sends it. */
export function deltas(text: string, size = 7): string[] {
  const points = Array.from(text);
  const pieces: string[] = [];
  for (let start = 0; start < points.length; start += size) pieces.push(points.slice(start, start + size).join(""));
  return pieces;
}
