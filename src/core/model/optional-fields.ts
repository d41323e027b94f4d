/**
 * Request fields threadbook adds on its own (`include`, `prompt_cache_key`)
 * that an OpenAI-compatible server may not take. The first time a server
 * rejects one by name (a 400 or 422 naming it, as "Unknown parameter:
 * 'include'"), it is said once in the log and left out of every later
 * request of this client, and the step is sent again without it.
 */
import { BadRequestError, UnprocessableEntityError } from "openai";
import type { Logger } from "../../log.ts";

/**
 * Whether a server's message rejects the field: quoted ("Unknown parameter:
 * 'include'"), after "argument supplied:", or beside a word of refusal
 * (unknown, unrecognized, unsupported, not permitted, not supported).
 */
function namesField(message: string, name: string): boolean {
  const refusal = "unknown|unrecognized|unrecognised|unsupported|not permitted|not supported|not allowed|extra";
  return (
    new RegExp(`['"\`]${name}['"\`]|argument supplied: ${name}\\b`, "i").test(message) ||
    new RegExp(`(${refusal})[^.]{0,40}\\b${name}\\b|\\b${name}\\b[^.]{0,40}(${refusal})`, "i").test(message)
  );
}

export class OptionalFields {
  readonly #rejected = new Set<string>();
  readonly #logger: Logger;
  readonly #consequences: Record<string, string>;

  /** `consequences`: each field's name, and what going on without it costs, for the log. */
  constructor(consequences: Record<string, string>, logger: Logger) {
    this.#consequences = consequences;
    this.#logger = logger;
  }

  /** Whether the field may still be sent. */
  accepted(name: string): boolean {
    return !this.#rejected.has(name);
  }

  /**
   * The field among those `body` carries that `error` rejects, now no
   * longer sent; null when the error is about something else.
   */
  rejectedBy(error: unknown, body: object): string | null {
    if (!(error instanceof BadRequestError || error instanceof UnprocessableEntityError)) return null;
    const field = Object.keys(this.#consequences).find((name) => name in body && this.accepted(name) && (error.param === name || namesField(error.message, name)));
    if (field === undefined) return null;
    this.#rejected.add(field);
    this.#logger.warn({ field, status: error.status }, `the model service does not take \`${field}\`; going on without it (${this.#consequences[field]})`);
    return field;
  }
}
