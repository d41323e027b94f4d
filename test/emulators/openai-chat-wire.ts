/**
 * How Chat Completions (`POST /v1/chat/completions`) puts a scripted step on
 * the wire: a `chat.completion`, or `chat.completion.chunk` events ending in
 * `data: [DONE]`. Code calls are function tool calls whose arguments are JSON
 * `{"code": "..."}`, proposals `propose_skill` function calls with the
 * proposal's JSON, both streamed in fragments that split escapes apart. A
 * refusal takes the place of the content.
 */
import { randomBytes } from "node:crypto";
import {
  deltas,
  isProposeCall,
  proposeArguments,
  toolNameOf,
  type AnswerStep,
  type RecordedRequest,
  type ScriptedUsage,
  type ServerSentEvent,
} from "./openai-script.ts";

interface WireCall {
  id: string;
  name: string;
  arguments: string;
}

const newId = (prefix: string) => `${prefix}${randomBytes(12).toString("hex")}`;
const systemFingerprint = "fp_emulator";

export function chatCompletionBody(request: RecordedRequest, step: AnswerStep, usage: ScriptedUsage): Record<string, unknown> {
  const calls = wireCalls(step);
  const message: Record<string, unknown> = { role: "assistant", content: contentOf(step), refusal: refusalOf(step), annotations: [] };
  if (calls.length > 0) {
    message["tool_calls"] = calls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }));
  }
  return {
    id: newId("chatcmpl-"),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: request.body["model"],
    choices: [{ index: 0, message, logprobs: null, finish_reason: calls.length > 0 ? "tool_calls" : "stop" }],
    usage: usageBody(usage),
    service_tier: "default",
    system_fingerprint: systemFingerprint,
  };
}

export function chatCompletionEvents(request: RecordedRequest, step: AnswerStep, usage: ScriptedUsage): ServerSentEvent[] {
  const id = newId("chatcmpl-");
  const created = Math.floor(Date.now() / 1000);
  const streamOptions = request.body["stream_options"] as { include_usage?: boolean } | undefined;
  const includeUsage = streamOptions?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): ServerSentEvent => ({
    data: {
      id,
      object: "chat.completion.chunk",
      created,
      model: request.body["model"],
      service_tier: "default",
      system_fingerprint: systemFingerprint,
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    },
  });
  const delta = (fields: Record<string, unknown>, finishReason: string | null = null) =>
    chunk([{ index: 0, delta: fields, logprobs: null, finish_reason: finishReason }]);

  const events: ServerSentEvent[] = [];
  const calls = wireCalls(step);
  const content = contentOf(step);
  const refusal = refusalOf(step);
  if (content !== null) {
    events.push(delta({ role: "assistant", content: "", refusal: null }));
    for (const piece of deltas(content)) events.push({ ...delta({ content: piece }), carriesText: true });
  } else if (refusal !== null) {
    events.push(delta({ role: "assistant", content: null, refusal: "" }));
    for (const piece of deltas(refusal)) events.push({ ...delta({ refusal: piece }), carriesText: true });
  }
  calls.forEach((call, index) => {
    const opening = { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } };
    events.push(delta(events.length === 0 ? { role: "assistant", content: null, tool_calls: [opening], refusal: null } : { tool_calls: [opening] }));
    for (const piece of deltas(call.arguments, 5)) events.push(delta({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  events.push(delta({}, calls.length > 0 ? "tool_calls" : "stop"));
  if (includeUsage) events.push(chunk([], { usage: usageBody(usage) }));
  events.push({ data: "[DONE]" });
  return events;
}

function contentOf(step: AnswerStep): string | null {
  return step.type === "refusal" ? null : (step.text ?? null);
}

function refusalOf(step: AnswerStep): string | null {
  return step.type === "refusal" ? step.refusal : null;
}

function wireCalls(step: AnswerStep): WireCall[] {
  if (step.type !== "code") return [];
  return step.calls.map((call) => ({
    id: call.callId ?? newId("call_"),
    name: toolNameOf(call),
    arguments: isProposeCall(call) ? proposeArguments(call) : (call.rawArguments ?? JSON.stringify({ code: call.code })),
  }));
}

function usageBody(usage: ScriptedUsage): Record<string, unknown> {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}
