/**
 * How the Responses API (`POST /v1/responses`) puts a scripted step on the
 * wire: a `response` object, or the server-sent events that build one. The
 * shapes copy what api.openai.com sends for a reasoning model with a custom
 * tool (code calls) and a function tool (proposals), so the SDK's strict
 * stream accumulator accepts them.
 */
import { randomBytes } from "node:crypto";
import type { OutputItem } from "./openai-reasoning.ts";
import {
  deltas,
  isProposeCall,
  proposeArguments,
  PROPOSE_SKILL_TOOL,
  type AnswerStep,
  type RecordedRequest,
  type ScriptedUsage,
  type ServerSentEvent,
} from "./openai-script.ts";
type MessagePart = { type: "output_text"; annotations: []; logprobs: []; text: string } | { type: "refusal"; refusal: string };

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

/** `items`: the step's output items (outputItems), reasoning items put in. */
export function responseBody(request: RecordedRequest, items: OutputItem[], usage: ScriptedUsage): Record<string, unknown> {
  return responseObject(request, newId("resp"), "completed", items, usage);
}

export function responseEvents(request: RecordedRequest, items: OutputItem[], usage: ScriptedUsage): ServerSentEvent[] {
  const id = newId("resp");
  const events: ServerSentEvent[] = [];
  const emit = (type: string, fields: Record<string, unknown>, carriesText = false) => {
    events.push({ event: type, data: { type, sequence_number: events.length, ...fields }, ...(carriesText ? { carriesText } : {}) });
  };
  emit("response.created", { response: responseObject(request, id, "in_progress", [], null) });
  emit("response.in_progress", { response: responseObject(request, id, "in_progress", [], null) });
  items.forEach((item, outputIndex) => {
    const routing = { item_id: item.id, output_index: outputIndex };
    if (item.type === "message") {
      emit("response.output_item.added", { output_index: outputIndex, item: { ...item, status: "in_progress", content: [] } });
      const [part] = item["content"] as MessagePart[];
      const at = { ...routing, content_index: 0 };
      if (part?.type === "refusal") {
        emit("response.content_part.added", { ...at, part: { type: "refusal", refusal: "" } });
        for (const delta of deltas(part.refusal)) emit("response.refusal.delta", { ...at, delta }, true);
        emit("response.refusal.done", { ...at, refusal: part.refusal });
        emit("response.content_part.done", { ...at, part });
      } else if (part?.type === "output_text") {
        const text = part.text;
        emit("response.content_part.added", { ...at, part: { type: "output_text", annotations: [], logprobs: [], text: "" } });
        for (const delta of deltas(text)) emit("response.output_text.delta", { ...at, delta, logprobs: [] }, true);
        emit("response.output_text.done", { ...at, text, logprobs: [] });
        emit("response.content_part.done", { ...at, part });
      }
    } else if (item.type === "custom_tool_call") {
      const input = String(item["input"]);
      emit("response.output_item.added", { output_index: outputIndex, item: { ...item, status: "in_progress", input: "" } });
      for (const delta of deltas(input)) emit("response.custom_tool_call_input.delta", { ...routing, delta });
      emit("response.custom_tool_call_input.done", { ...routing, input });
    } else if (item.type === "function_call") {
      const argumentsText = String(item["arguments"]);
      emit("response.output_item.added", { output_index: outputIndex, item: { ...item, status: "in_progress", arguments: "" } });
      for (const delta of deltas(argumentsText, 11)) emit("response.function_call_arguments.delta", { ...routing, delta });
      emit("response.function_call_arguments.done", { ...routing, arguments: argumentsText });
    } else {
      emit("response.output_item.added", { output_index: outputIndex, item });
    }
    emit("response.output_item.done", { output_index: outputIndex, item });
  });
  emit("response.completed", { response: responseObject(request, id, "completed", items, usage) });
  return events;
}

/** The step's messages and calls as output items; the reasoning items are put in by the ReasoningLedger. */
export function outputItems(step: AnswerStep): OutputItem[] {
  const items: OutputItem[] = [];
  const part: MessagePart | undefined =
    step.type === "refusal"
      ? { type: "refusal", refusal: step.refusal }
      : step.text !== undefined
        ? { type: "output_text", annotations: [], logprobs: [], text: step.text }
        : undefined;
  if (part !== undefined) {
    items.push({ id: newId("msg"), type: "message", status: "completed", role: "assistant", content: [part] });
  }
  if (step.type === "code") {
    for (const call of step.calls) {
      if (isProposeCall(call)) {
        items.push({
          id: newId("fc"),
          type: "function_call",
          status: "completed",
          arguments: proposeArguments(call),
          call_id: call.callId ?? newId("call"),
          name: PROPOSE_SKILL_TOOL,
        });
        continue;
      }
      items.push({
        id: newId("ctc"),
        type: "custom_tool_call",
        status: "completed",
        call_id: call.callId ?? newId("call"),
        name: call.name ?? "python",
        input: call.code,
      });
    }
  }
  return items;
}

function responseObject(
  request: RecordedRequest,
  id: string,
  status: "in_progress" | "completed",
  output: OutputItem[],
  usage: ScriptedUsage | null,
): Record<string, unknown> {
  const body = request.body;
  return {
    id,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body["instructions"] ?? null,
    max_output_tokens: body["max_output_tokens"] ?? null,
    model: body["model"],
    output,
    parallel_tool_calls: body["parallel_tool_calls"] ?? true,
    previous_response_id: null,
    reasoning: { effort: (body["reasoning"] as { effort?: string } | undefined)?.effort ?? "medium", summary: null },
    store: body["store"] ?? true,
    temperature: 1,
    text: { format: { type: "text" }, verbosity: (body["text"] as { verbosity?: string } | undefined)?.verbosity ?? "medium" },
    prompt_cache_key: body["prompt_cache_key"] ?? null,
    tool_choice: body["tool_choice"] ?? "auto",
    tools: body["tools"] ?? [],
    top_p: 1,
    truncation: "disabled",
    usage: usage && {
      input_tokens: usage.inputTokens,
      input_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
      output_tokens: usage.outputTokens,
      output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
      total_tokens: usage.inputTokens + usage.outputTokens,
    },
    user: null,
    metadata: {},
  };
}
