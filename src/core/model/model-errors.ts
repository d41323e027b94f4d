/**
 * Turns what the `openai` SDK throws into a ModelError whose message tells a
 * chat user what failed and which setting to look at. The SDK has already
 * retried 408, 409, 5xx and connection failures `maxRetries` times by the
 * time an error reaches here; a 429 comes at once (rate-limit-fetch.ts), with
 * the wait the server asked for, for the turn to retry within its deadline. The status, the request id and the
 * server's own words go to `details` for the log; the API key never does.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  OpenAIError,
  PermissionDeniedError,
  RateLimitError,
  UnprocessableEntityError,
} from "openai";
import { ModelError } from "../../errors.ts";

export interface ModelErrorContext {
  /** "responses" or "chat": which endpoint was called. */
  api: string;
  model: string;
  timeoutMs: number;
  /** The configured OPENAI_BASE_URL, if any. */
  baseURL: string | undefined;
}

export function toModelError(error: unknown, context: ModelErrorContext): ModelError {
  if (error instanceof ModelError) return error;
  const details = errorDetails(error, context);
  const options = (retryable: boolean) => ({ retryable, details, cause: error });
  const model = `'${context.model}'`;

  if (error instanceof APIUserAbortError) {
    return new ModelError("model_timeout", "The model request was stopped before the model answered.", options(false));
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new ModelError("model_timeout", `The model service did not answer within ${seconds(context.timeoutMs)} (THREADBOOK_MODEL_TIMEOUT_S).`, options(true));
  }
  if (error instanceof APIConnectionError) {
    return new ModelError("model_unavailable", `Could not reach the model service at ${serviceHost(context.baseURL)}. Check OPENAI_BASE_URL and the network.`, options(true));
  }
  if (error instanceof AuthenticationError) {
    return new ModelError("model_auth", "The model service rejected the API key (401). Check OPENAI_API_KEY.", options(false));
  }
  if (error instanceof PermissionDeniedError) {
    return new ModelError("model_auth", `The model service denied this API key access to model ${model} (403). Check OPENAI_API_KEY and THREADBOOK_MODEL.`, options(false));
  }
  if (error instanceof NotFoundError) {
    if (error.code === "model_not_found" || /model/i.test(error.message)) {
      return new ModelError("model_not_found", `The model ${model} was not found (404). Check THREADBOOK_MODEL.`, options(false));
    }
    const endpoint = context.api === "responses" ? "/responses" : "/chat/completions";
    return new ModelError(
      "model_not_found",
      `The model service has no ${endpoint} endpoint at ${serviceHost(context.baseURL)} (404). Check OPENAI_BASE_URL; for a server without the Responses API set THREADBOOK_MODEL_API=chat.`,
      options(false),
    );
  }
  if (error instanceof RateLimitError) {
    if (error.code === "insufficient_quota") {
      return new ModelError("model_rate_limited", "The model service says the account behind OPENAI_API_KEY is out of quota (429). Check its plan and billing.", options(false));
    }
    return new ModelError("model_rate_limited", "The model service is rate-limiting us (429); try again in a minute.", { ...options(true), retryAfterMs: retryAfterMs(error.headers) });
  }
  if (error instanceof BadRequestError || error instanceof UnprocessableEntityError) {
    if (error.code === "context_length_exceeded") {
      return new ModelError(
        "model_bad_request",
        `The conversation is too long for model ${model} (${error.status}). Start a new thread, or lower THREADBOOK_HISTORY_CHARS.`,
        options(false),
      );
    }
    return new ModelError("model_bad_request", `The model service rejected the request (${error.status}): ${serverWords(error)}`, options(false));
  }
  if (error instanceof InternalServerError) {
    return new ModelError("model_unavailable", `The model service failed (${error.status}); try again in a minute.`, options(true));
  }
  if (error instanceof APIError) {
    if (error.status === undefined) {
      return new ModelError("model_unavailable", `The model service reported an error while answering: ${serverWords(error)}`, options(true));
    }
    const retryable = error.status === 408 || error.status === 409;
    return new ModelError("model_unavailable", `The model service answered with an error (${error.status}): ${serverWords(error)}`, options(retryable));
  }
  if (error instanceof OpenAIError) {
    return new ModelError("model_bad_response", `The model service sent an answer threadbook could not read: ${redactKeys(error.message)}`, options(false));
  }
  return new ModelError("model_bad_response", "The model client failed unexpectedly; the details are in threadbook's log.", options(false));
}

/** Longest wait read from a Retry-After: a day; anything longer is no answer a turn can wait for anyway. */
const maxRetryAfterMs = 86_400_000;

/** The wait a 429 asks for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date; undefined when it says none. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const milliseconds = Number.parseFloat(headers?.get("retry-after-ms") ?? "");
  if (Number.isFinite(milliseconds) && milliseconds >= 0) return Math.min(milliseconds, maxRetryAfterMs);
  const given = headers?.get("retry-after")?.trim();
  if (given === undefined || given === "") return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(given) ? Number(given) * 1000 : Date.parse(given) - now;
  return Number.isFinite(seconds) ? Math.min(Math.max(0, seconds), maxRetryAfterMs) : undefined;
}

function errorDetails(error: unknown, context: ModelErrorContext): Record<string, unknown> {
  const details: Record<string, unknown> = { api: context.api, model: context.model };
  if (error instanceof APIError) {
    details["status"] = error.status;
    details["requestId"] = error.requestID ?? undefined;
    details["type"] = error.type;
    details["code"] = error.code;
    details["param"] = error.param;
    details["serverMessage"] = redactKeys(error.message);
  } else if (error instanceof Error) {
    details["error"] = redactKeys(error.message);
  }
  if (error instanceof APIConnectionError && error.cause instanceof Error) {
    details["cause"] = redactKeys(error.cause.message);
  }
  return details;
}

/** The server's message, short; the real API echoes a masked key on a 401, which is masked further here. */
function serverWords(error: APIError): string {
  const words = redactKeys(error.message.replace(/^\d{3} /, "")).trim();
  return words.length > 300 ? `${words.slice(0, 300)}…` : words || "no reason given";
}

function redactKeys(text: string): string {
  return text.replace(/\b(sk|key)-[A-Za-z0-9_*\-]{4,}/g, "$1-[redacted]");
}

function serviceHost(baseURL: string | undefined): string {
  if (baseURL === undefined) return "api.openai.com";
  try {
    return new URL(baseURL).host;
  } catch {
    return "OPENAI_BASE_URL";
  }
}

function seconds(milliseconds: number): string {
  return `${Number((milliseconds / 1000).toFixed(1))} s`;
}
