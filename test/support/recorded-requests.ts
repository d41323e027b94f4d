/**
 * Reading what reached the emulated model, whichever API carried it: the
 * user's messages, the code results and the images, as plain strings.
 */
import type { RecordedRequest } from "../emulators/openai-server.ts";

type Part = Record<string, unknown>;

function entries(request: RecordedRequest): Part[] {
  const list = request.api === "responses" ? request.body["input"] : request.body["messages"];
  return Array.isArray(list) ? (list as Part[]) : [];
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return (content as Part[]).map((part) => (typeof part["text"] === "string" ? part["text"] : "")).join("");
}

/** Every user message's text, in order. */
export function userTexts(request: RecordedRequest): string[] {
  return entries(request).filter((entry) => entry["role"] === "user").map((entry) => textOf(entry["content"]));
}

/** Every code result sent back to the model, in order. */
export function toolOutputs(request: RecordedRequest): string[] {
  return entries(request).flatMap((entry) => {
    if (entry["type"] === "custom_tool_call_output") return [String(entry["output"])];
    if (entry["role"] === "tool") return [textOf(entry["content"])];
    return [];
  });
}

/** Every code call the request carries, in order. */
export function codeCalls(request: RecordedRequest): string[] {
  return entries(request).flatMap((entry) => {
    if (entry["type"] === "custom_tool_call") return [String(entry["input"])];
    const calls = entry["tool_calls"];
    if (!Array.isArray(calls)) return [];
    return (calls as Part[]).map((call) => String((JSON.parse(String((call["function"] as Part)["arguments"])) as { code: string }).code));
  });
}

/** How many images the request carries. */
export function imageCount(request: RecordedRequest): number {
  let count = 0;
  for (const entry of entries(request)) {
    const content = entry["content"];
    if (!Array.isArray(content)) continue;
    for (const part of content as Part[]) if (part["type"] === "input_image" || part["type"] === "image_url") count += 1;
  }
  return count;
}

/** The system prompt the request carries. */
export function instructionsOf(request: RecordedRequest): string {
  if (request.api === "responses") return String(request.body["instructions"] ?? "");
  const system = entries(request).find((entry) => entry["role"] === "system");
  return textOf(system?.["content"]);
}
