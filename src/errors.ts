/**
 * The one error hierarchy. A failure of the user's code is data (a cell's
 * `error`); a failure of the machinery is a `ThreadbookError` with a code, a
 * plain message a user can act on, and whether trying again may help.
 */
export type ErrorCode =
  | "config_invalid"
  | "docker_unavailable"
  | "image_missing"
  | "image_build_failed"
  | "sandbox_failed"
  | "sandbox_lost"
  | "sandbox_busy"
  | "file_rejected"
  | "model_auth"
  | "model_not_found"
  | "model_rate_limited"
  | "model_unavailable"
  | "model_timeout"
  | "model_bad_request"
  | "model_bad_response"
  | "store_failed"
  | "input_invalid"
  | "skill_invalid"
  | "skill_not_found"
  | "skill_not_allowed"
  | "skill_decided"
  | "turn_interrupted"
  /** `threadbook sessions` found no running bot to ask (no control socket, or it does not answer). */
  | "control_unavailable";

export interface ThreadbookErrorOptions {
  retryable?: boolean;
  /** Facts for the log, never shown to a user. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class ThreadbookError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ThreadbookErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ThreadbookError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

export class ConfigError extends ThreadbookError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super("config_invalid", `Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export class SandboxError extends ThreadbookError {
  constructor(code: Extract<ErrorCode, "docker_unavailable" | "image_missing" | "image_build_failed" | "sandbox_failed" | "sandbox_lost" | "sandbox_busy" | "file_rejected">, message: string, options?: ThreadbookErrorOptions) {
    super(code, message, options);
    this.name = "SandboxError";
  }
}

export class ModelError extends ThreadbookError {
  /** How long the service asked to wait before trying again (a 429's Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(code: Extract<ErrorCode, `model_${string}`>, message: string, options?: ThreadbookErrorOptions & { retryAfterMs?: number | undefined }) {
    super(code, message, options);
    this.name = "ModelError";
    this.retryAfterMs = options?.retryAfterMs;
  }
}

export class StoreError extends ThreadbookError {
  constructor(message: string, options?: ThreadbookErrorOptions) {
    super("store_failed", message, options);
    this.name = "StoreError";
  }
}

/**
 * A skill refused (its message names the rule it breaks), not found, a
 * decision by someone who may not decide, or on a version decided already.
 */
export class SkillError extends ThreadbookError {
  constructor(code: Extract<ErrorCode, "skill_invalid" | "skill_not_found" | "skill_not_allowed" | "skill_decided">, message: string, options?: ThreadbookErrorOptions) {
    super(code, message, options);
    this.name = "SkillError";
  }
}

/** The message to show a user for any thrown value; internals stay in the log. */
export function userMessage(error: unknown): string {
  if (error instanceof ThreadbookError) return error.message;
  return "Something went wrong inside threadbook. The details are in its log.";
}
