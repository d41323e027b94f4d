/**
 * What model tokens cost, per million, as THREADBOOK_MODEL_PRICES gives it:
 * `input/cached input/output` for every model (`1.25/0.125/10`), or per
 * model, comma-separated (`gpt-5.1=1.25/0.125/10,gpt-5-mini=0.25/0.025/2`),
 * where a `*=…` entry covers the models not named. Cached input tokens are
 * part of the input tokens, and reasoning tokens of the output tokens, as the
 * model services count them, so a cached token costs the cached price only.
 */

/** Prices per million tokens, in the operator's currency. */
export interface TokenPrices {
  input: number;
  cachedInput: number;
  output: number;
}

/** Prices by model name; "*" for any model not named. */
export type ModelPrices = Readonly<Record<string, TokenPrices>>;

/** The token counts a cost is made of. */
export interface TokenCounts {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
}

const anyModel = "*";
const pricePattern = /^\d+(\.\d+)?$/;

/** The prices in `text`, or undefined when it does not fit the format. */
export function parseModelPrices(text: string): ModelPrices | undefined {
  const prices: Record<string, TokenPrices> = {};
  const entries = text.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
  if (entries.length === 0) return undefined;
  for (const entry of entries) {
    const equals = entry.lastIndexOf("=");
    const model = equals < 0 ? anyModel : entry.slice(0, equals).trim();
    const triple = (equals < 0 ? entry : entry.slice(equals + 1)).split("/").map((part) => part.trim());
    if (model === "" || model in prices || triple.length !== 3 || !triple.every((part) => pricePattern.test(part))) return undefined;
    const [input, cachedInput, output] = triple.map(Number) as [number, number, number];
    prices[model] = { input, cachedInput, output };
  }
  return prices;
}

/** The prices of `model`, or null when none are set for it. */
export function pricesFor(prices: ModelPrices | null, model: string): TokenPrices | null {
  if (prices === null) return null;
  return prices[model] ?? prices[anyModel] ?? null;
}

/** What the tokens cost at `prices`. */
export function costOf(counts: TokenCounts, prices: TokenPrices): number {
  const cached = Math.min(counts.cachedInputTokens, counts.inputTokens);
  return ((counts.inputTokens - cached) * prices.input + cached * prices.cachedInput + counts.outputTokens * prices.output) / 1_000_000;
}
