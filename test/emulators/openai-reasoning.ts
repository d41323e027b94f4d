/**
 * Reasoning items as the Responses API hands them out and takes them back
 * for a stateless caller (`store: false`). Each response of the emulated
 * reasoning model carries a reasoning item before its first output item and
 * before each further tool call; asked with `include:
 * ["reasoning.encrypted_content"]`, each carries an opaque encrypted content
 * sealed with the emulator's key, naming the item that followed it: like the
 * real service's, any emulator reads it back, so a conversation goes on
 * across a restart. Coming back in a request's input, a reasoning item is
 * checked as the real API checks it, with its wording:
 * - without its encrypted content: 404, "Item with id 'rs_…' not found.
 *   Items are not persisted when `store` is set to false…";
 * - with content it never issued, or altered: 400, could not be verified;
 * - not followed by the item that followed it: 400, "Item 'rs_…' of type
 *   'reasoning' was provided without its required following item."
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { ApiErrorBody, RecordedRequest } from "./openai-script.ts";

export type OutputItem = Record<string, unknown> & { id: string; type: string };

export const ENCRYPTED_REASONING = "reasoning.encrypted_content";

export interface Rejection {
  status: number;
  error: ApiErrorBody;
}

/** The emulated service's sealing key: the same in every emulator, as the real service's is behind every endpoint. */
const sealingKey = "threadbook emulator reasoning key";
/** Marks the content as the service's, as the real one's Fernet tokens begin. */
const sealPrefix = "gAAAAA";
const macChars = 43;

interface Sealed {
  id: string;
  /** What must follow it: "message:<text>", "custom_tool_call:<call id>" or "function_call:<call id>". */
  following: string;
  nonce: string;
}

function mac(payload: string): string {
  return createHmac("sha256", sealingKey).update(payload).digest("base64url");
}

function seal(sealed: Sealed): string {
  const payload = Buffer.from(JSON.stringify(sealed)).toString("base64url");
  return `${sealPrefix}${mac(payload)}${payload}`;
}

/** What the content says, or null when it is not content the service sealed. */
function unseal(content: string): Sealed | null {
  if (!content.startsWith(sealPrefix)) return null;
  const given = Buffer.from(content.slice(sealPrefix.length, sealPrefix.length + macChars));
  const payload = content.slice(sealPrefix.length + macChars);
  const expected = Buffer.from(mac(payload));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Sealed;
  } catch {
    return null;
  }
}

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

export class ReasoningLedger {
  /** By id, the prompt cache key of the request each answered, to tell conversations apart in tests. */
  readonly #issued = new Map<string, string | undefined>();

  /** The reasoning ids this emulator issued, in order, with the prompt cache key of the request each answered. */
  issued(): Map<string, string | undefined> {
    return new Map(this.#issued);
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
        reasoning["encrypted_content"] = seal({ id: reasoning.id, following: followingKeyOfOutput(item), nonce: randomBytes(48 + Math.floor(Math.random() * 64)).toString("base64url") });
        this.#issued.set(reasoning.id, cacheKey);
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
      const issued = unseal(content);
      if (issued === null || issued.id !== id) {
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
