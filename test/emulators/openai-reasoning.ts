/**
 * Reasoning items as the Responses API hands them out and takes them back
 * for a stateless caller (`store: false`). Each response of the emulated
 * reasoning model carries a reasoning item before its first output item and
 * before each further tool call; asked with `include:
 * ["reasoning.encrypted_content"]`, each carries an opaque encrypted content
 * that the emulator remembers with the item that followed it. Coming back in
 * a request's input, a reasoning item is checked as the real API checks it,
 * with its wording:
 * - without its encrypted content: 404, "Item with id 'rs_…' not found.
 *   Items are not persisted when `store` is set to false…";
 * - with content it never issued, or altered: 400, could not be verified;
 * - not followed by the item that followed it: 400, "Item 'rs_…' of type
 *   'reasoning' was provided without its required following item."
 */
import { randomBytes } from "node:crypto";
import type { ApiErrorBody, RecordedRequest } from "./openai-script.ts";

export type OutputItem = Record<string, unknown> & { id: string; type: string };

export const ENCRYPTED_REASONING = "reasoning.encrypted_content";

export interface Rejection {
  status: number;
  error: ApiErrorBody;
}

interface Issued {
  encryptedContent: string;
  /** What must follow it: "message:<text>", "custom_tool_call:<call id>" or "function_call:<call id>". */
  following: string;
  /** The prompt cache key of the request it answered, to tell conversations apart in tests. */
  cacheKey: string | undefined;
}

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

export class ReasoningLedger {
  readonly #issued = new Map<string, Issued>();

  /** The reasoning ids issued so far, with the prompt cache key of the request each answered. */
  issued(): Map<string, string | undefined> {
    return new Map([...this.#issued].map(([id, issued]) => [id, issued.cacheKey]));
  }

  /**
   * The output items with reasoning items put in: before the first item and
   * before each further tool call. Each carries encrypted content when the
   * request asked for it, and is then remembered.
   */
  reason(request: RecordedRequest, items: OutputItem[]): OutputItem[] {
    const encrypted = asksForEncryptedReasoning(request);
    const cacheKey = typeof request.body["prompt_cache_key"] === "string" ? request.body["prompt_cache_key"] : undefined;
    const output: OutputItem[] = [];
    items.forEach((item, index) => {
      if (index > 0 && item.type !== "custom_tool_call" && item.type !== "function_call") {
        output.push(item);
        return;
      }
      const reasoning: OutputItem = { id: newId("rs"), type: "reasoning", summary: [] };
      if (encrypted) {
        const encryptedContent = `gAAAAA${randomBytes(96 + Math.floor(Math.random() * 64)).toString("base64url")}`;
        reasoning["encrypted_content"] = encryptedContent;
        this.#issued.set(reasoning.id, { encryptedContent, following: followingKeyOfOutput(item), cacheKey });
      }
      output.push(reasoning, item);
    });
    return output;
  }

  /** What the real API answers to the request's reasoning items, or null when it takes them. */
  check(request: RecordedRequest): Rejection | null {
    const input = Array.isArray(request.body["input"]) ? (request.body["input"] as Record<string, unknown>[]) : [];
    for (const [index, item] of input.entries()) {
      if (item["type"] !== "reasoning") continue;
      const id = String(item["id"]);
      const content = item["encrypted_content"];
      if (typeof content !== "string" || content === "") {
        if (request.body["store"] !== false) continue;
        return rejection(404, `Item with id '${id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`, "input", null);
      }
      const issued = this.#issued.get(id);
      if (issued === undefined || issued.encryptedContent !== content) {
        return rejection(400, `The encrypted content for item ${id} could not be verified.`, "input", "invalid_encrypted_content");
      }
      if (followingKeyOfInput(input[index + 1]) !== issued.following) {
        return rejection(400, `Item '${id}' of type 'reasoning' was provided without its required following item.`, "input", null);
      }
    }
    return null;
  }
}

export function asksForEncryptedReasoning(request: RecordedRequest): boolean {
  const include = request.body["include"];
  return request.body["store"] === false && Array.isArray(include) && include.includes(ENCRYPTED_REASONING);
}

function followingKeyOfOutput(item: OutputItem): string {
  if (item.type === "message") {
    const parts = item["content"] as { text?: string; refusal?: string }[];
    return `message:${parts.map((part) => part.text ?? part.refusal ?? "").join("")}`;
  }
  return `${item.type}:${String(item["call_id"])}`;
}

function followingKeyOfInput(item: Record<string, unknown> | undefined): string | undefined {
  if (item === undefined) return undefined;
  if (item["type"] === "custom_tool_call" || item["type"] === "function_call") return `${String(item["type"])}:${String(item["call_id"])}`;
  if ((item["type"] === "message" || item["type"] === undefined) && item["role"] === "assistant") {
    const content = item["content"];
    if (typeof content === "string") return `message:${content}`;
    if (Array.isArray(content)) return `message:${(content as { text?: string; refusal?: string }[]).map((part) => part.text ?? part.refusal ?? "").join("")}`;
  }
  return `other:${String(item["type"] ?? item["role"])}`;
}

function rejection(status: number, message: string, param: string | null, code: string | null): Rejection {
  return { status, error: { message, type: "invalid_request_error", code, param } };
}
