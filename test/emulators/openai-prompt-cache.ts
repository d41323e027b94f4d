/**
 * The prompt cache as the real APIs count it: a request whose prompt begins
 * as the previous prompt of the same `prompt_cache_key` began has that
 * shared prefix read from the cache, counted in whole blocks of 128 tokens
 * once it reaches 1,024 tokens (here four characters a token), and reported
 * as cached input tokens. Requests without a key share one cache.
 */
import { promptText, type RecordedRequest, type ScriptedUsage } from "./openai-script.ts";

const charsPerToken = 4;
const minimumTokens = 1024;
const blockTokens = 128;

export class PromptCache {
  readonly #last = new Map<string, string>();

  /** The usage with its cached input tokens, unless the script named them; remembers this prompt. */
  account(request: RecordedRequest, usage: ScriptedUsage): ScriptedUsage {
    const key = typeof request.body["prompt_cache_key"] === "string" ? request.body["prompt_cache_key"] : "";
    const prompt = promptText(request);
    const previous = this.#last.get(key) ?? "";
    this.#last.set(key, prompt);
    if (usage.cachedInputTokens !== undefined) return usage;
    const sharedTokens = Math.floor(sharedPrefix(previous, prompt) / charsPerToken);
    const cached = sharedTokens < minimumTokens ? 0 : Math.floor(sharedTokens / blockTokens) * blockTokens;
    return { ...usage, cachedInputTokens: Math.min(cached, usage.inputTokens) };
  }
}

export function sharedPrefix(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let index = 0;
  while (index < length && a.charCodeAt(index) === b.charCodeAt(index)) index++;
  return index;
}
