/**
 * The model seam: one step of the model. Given the instructions, the
 * transcript so far and the code tool, the model answers in text, calls the
 * code tool, or both. Implementations: Responses API with a freeform custom
 * tool (responses-client.ts) and Chat Completions with a function tool
 * (chat-client.ts). Errors are thrown as ModelError with a plain message.
 */

/** The code tool's name as the model sees it. */
export const CODE_TOOL_NAME = "python";

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
  | { type: "code"; callId: string; code: string }
  /** The result of that call, as text for the model, with figures where the model takes images. */
  | { type: "result"; callId: string; output: string; images?: ImageInput[] };

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
}

export interface CodeCall {
  callId: string;
  code: string;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ModelStep {
  /** Text the model wrote in this step (the answer when `calls` is empty). */
  text: string;
  /** Code tool calls to run in order; empty when the model has answered. */
  calls: CodeCall[];
  usage: Usage;
}

export interface ModelClient {
  /** e.g. "responses:gpt-5.1", for logs. */
  readonly description: string;
  step(request: ModelRequest): Promise<ModelStep>;
}
