/**
 * The model seam: one step of the model. Given the instructions, the
 * transcript so far and its tools, the model answers in text, calls tools,
 * or both. The code tool runs Python; the proposal tool, offered only where
 * a skill library keeps proposals, hands the core a skill to store for
 * approval and runs nothing. Implementations: Responses API with the code
 * tool as a freeform custom tool (responses-client.ts) and Chat Completions
 * with function tools (chat-client.ts). Errors are thrown as ModelError with
 * a plain message.
 */

/** The code tool's name as the model sees it. */
export const CODE_TOOL_NAME = "python";

/** The proposal tool's name as the model sees it. */
export const PROPOSE_SKILL_TOOL_NAME = "propose_skill";

export interface ImageInput {
  mediaType: "image/png" | "image/jpeg";
  /** Base64 without a data: prefix. */
  base64: string;
}

export type TranscriptItem =
  /** What the user said (with the note on attached files folded in). */
  | { type: "user"; text: string }
  /** The model's text. */
  | { type: "assistant"; text: string }
  /** A call of the code tool by the model. */
  | CodeCall
  /** A call of the proposal tool by the model. */
  | ProposalCall
  /** The result of a call (of either tool, by its id), as text for the model, with figures where the model takes images. */
  | { type: "result"; callId: string; output: string; images?: ImageInput[] }
  /** The model's reasoning before the item that follows it, opaque (Responses API only). */
  | ReasoningItem;

/**
 * A reasoning item as the Responses API returned it, to be sent back
 * verbatim and in place (just before the item that followed it) so that a
 * reasoning model goes on thinking instead of starting afresh. Its content is
 * encrypted for the model service alone: it is never logged, never shown to a
 * user and never sent to another conversation, and its size is bounded when
 * it arrives (reasoning-items.ts).
 */
export interface ReasoningItem {
  type: "reasoning";
  /** The service's id for it, e.g. "rs_…". */
  id: string;
  /** The encrypted reasoning, opaque. */
  encryptedContent: string;
  /** The summary texts the service sent with it (none unless it was asked for summaries). */
  summary: string[];
  /** The model that reasoned: another model cannot read it, so it is sent only to the same one. */
  model: string;
}

export interface ModelRequest {
  /** The system prompt. */
  instructions: string;
  transcript: TranscriptItem[];
  /** Aborts the request, e.g. when the turn's time is up; a stream stops mid-way. */
  signal?: AbortSignal;
  /**
   * Called with each piece of the model's text as it arrives, in order, when
   * the client streams (THREADBOOK_MODEL_STREAM); never called otherwise.
   * Joined, the pieces equal the step's final `text` exactly. Only the answer's
   * text comes here (a refusal included): never the code tool's input. When
   * the step then rejects (aborted, cut off, failed), the pieces said so far
   * were no answer. The callback runs inside the stream's reading, so it
   * should return quickly; anything it throws is caught and ignored, because
   * showing text early must never cost the answer.
   */
  onTextDelta?: (delta: string) => void;
  /** Offers the proposal tool beside the code tool; without it only the code tool is offered. */
  proposeSkill?: boolean;
  /**
   * Routes the requests of one conversation to the same prompt cache
   * (`prompt_cache_key`): a one-way hash of the conversation's key, never the
   * key itself (prompt-cache-key.ts).
   */
  cacheKey?: string;
}

export interface CodeCall {
  type: "code";
  callId: string;
  code: string;
}

export interface ProposalCall {
  type: "proposal";
  callId: string;
  /**
   * The tool's arguments as the model wrote them: JSON text meant to be
   * `{ name, description, instructions, files }`, unchecked (the core parses
   * and bounds it, and tells the model when it is malformed).
   */
  arguments: string;
}

/** A call of one of the model's tools. */
export type ToolCall = CodeCall | ProposalCall;

export interface Usage {
  /** Every input token, the cached ones included. */
  inputTokens: number;
  /** Input tokens the service read from its prompt cache (billed lower); 0 when it says none. */
  cachedInputTokens: number;
  /** Every output token, the reasoning ones included. */
  outputTokens: number;
  /** Output tokens spent reasoning (not shown); 0 when the service says none. */
  reasoningTokens: number;
}

export interface ModelStep {
  /** Text the model wrote in this step (the answer when `calls` is empty). */
  text: string;
  /** Tool calls to carry out in order, each saying its tool; empty when the model has answered. */
  calls: ToolCall[];
  /**
   * What the step adds to the transcript, in the order the model wrote it:
   * its reasoning items (where the service returns them), each message's text
   * as an assistant item, and its calls (the same as `calls`).
   */
  items: TranscriptItem[];
  usage: Usage;
  /** The model that answered, as configured (THREADBOOK_MODEL): what the usage ledger records. */
  model: string;
}

export interface ModelClient {
  /** e.g. "responses:gpt-5.1", for logs. */
  readonly description: string;
  step(request: ModelRequest): Promise<ModelStep>;
}
