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
  /** Aborts the request, e.g. when the turn's time is up. */
  signal?: AbortSignal;
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
