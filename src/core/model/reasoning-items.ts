/**
 * Reasoning items on the Responses API: read from a response, bounded and
 * checked, and put back into a request verbatim and in place. A reasoning
 * item is the model's thinking before the item that follows it (a message or
 * a call); with `store: false` the service keeps nothing, so the item comes
 * back only with its encrypted content (`include: ["reasoning.encrypted_content"]`),
 * and it must be followed by its own item again or the service rejects it.
 * What the service sends is untrusted: an item over the bounds, or of a shape
 * not expected, is dropped, which costs the model its earlier thinking and
 * nothing else.
 */
import type { ResponseInputItem, ResponseOutputItem } from "openai/resources/responses/responses";
import type { ReasoningItem, TranscriptItem } from "./model-client.ts";

/** What `include` asks for: each reasoning item's encrypted content. */
export const ENCRYPTED_REASONING = "reasoning.encrypted_content";

/** Largest encrypted content kept, in characters (a long high-effort thought is some tens of KB). */
export const maxEncryptedChars = 256 * 1024;
/** Summary text kept per item, in characters, all parts together. */
const maxSummaryChars = 16 * 1024;
const idPattern = /^[A-Za-z0-9_-]{1,200}$/;
/** Base64, plain or URL-safe, as the service's encrypted content is. */
const encryptedPattern = /^[A-Za-z0-9+/_=-]+$/;

/** The reasoning item for the transcript, or null when it has no usable encrypted content or breaks a bound. */
export function readReasoningItem(item: Extract<ResponseOutputItem, { type: "reasoning" }>, model: string): ReasoningItem | null {
  const encrypted = item.encrypted_content;
  if (typeof item.id !== "string" || !idPattern.test(item.id)) return null;
  if (typeof encrypted !== "string" || encrypted.length === 0 || encrypted.length > maxEncryptedChars || !encryptedPattern.test(encrypted)) return null;
  const summary: string[] = [];
  let summaryChars = 0;
  for (const part of Array.isArray(item.summary) ? item.summary : []) {
    if (part?.type !== "summary_text" || typeof part.text !== "string") return null;
    summaryChars += part.text.length;
    if (summaryChars > maxSummaryChars) return null;
    summary.push(part.text);
  }
  return { type: "reasoning", id: item.id, encryptedContent: encrypted, summary, model };
}

/** The item as the request carries it: as it came, content and all. */
export function reasoningInput(item: ReasoningItem): ResponseInputItem {
  return {
    type: "reasoning",
    id: item.id,
    encrypted_content: item.encryptedContent,
    summary: item.summary.map((text) => ({ type: "summary_text" as const, text })),
  };
}

/**
 * Whether a reasoning item may go into the request: reasoned by this model,
 * and followed in the transcript by an item the model wrote (its own item;
 * a transcript trimmed between them would have the service reject it).
 */
export function sendable(item: ReasoningItem, next: TranscriptItem | undefined, model: string): boolean {
  if (item.model !== model) return false;
  return next !== undefined && (next.type === "assistant" || next.type === "code" || next.type === "proposal");
}

/**
 * Reasoning items of a step that no item of the same step follows (the last
 * one, or one before another reasoning item) are left out: nothing could be
 * sent after them.
 */
export function withoutTrailingReasoning(items: TranscriptItem[]): TranscriptItem[] {
  return items.filter((item, index) => item.type !== "reasoning" || (items[index + 1] !== undefined && items[index + 1]?.type !== "reasoning"));
}
