/**
 * Token counts as a model service reports them, checked: a count that is not
 * a whole number from 0 to a bound is taken as 0, and the parts (cached
 * input, reasoning output) never exceed their wholes.
 */
import type { Usage } from "./model-client.ts";

/** More tokens than any model takes in one step: a count above it is garbage. */
const maxTokens = 100_000_000;

function count(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= maxTokens ? value : 0;
}

export function usageOf(counts: { input: unknown; cachedInput: unknown; output: unknown; reasoning: unknown }): Usage {
  const inputTokens = count(counts.input);
  const outputTokens = count(counts.output);
  return {
    inputTokens,
    cachedInputTokens: Math.min(inputTokens, count(counts.cachedInput)),
    outputTokens,
    reasoningTokens: Math.min(outputTokens, count(counts.reasoning)),
  };
}
