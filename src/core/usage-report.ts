/**
 * What the usage ledger says since a time, by user, workspace, conversation
 * or UTC day: each group's turns, model steps and tokens per model, and
 * their cost where THREADBOOK_MODEL_PRICES prices the model (null where it
 * does not: tokens only). What `threadbook usage` shows.
 */
import { costOf, pricesFor, type ModelPrices } from "../model-prices.ts";
import type { Store, UsageGrouping, UsageTotal } from "../store/store.ts";

export interface UsageRow extends UsageTotal {
  /** Null when no price is set for the model. */
  cost: number | null;
}

export interface UsageReport {
  sinceMs: number;
  by: UsageGrouping;
  rows: UsageRow[];
  /** Every row summed (`turns` counts each turn once per group and model, as the rows do); the cost of the priced rows. */
  total: Omit<UsageRow, "group" | "model">;
  /** Whether any price is set: without one the report is tokens only. */
  priced: boolean;
}

export async function usageReport(store: Store, query: { sinceMs: number; by: UsageGrouping }, prices: ModelPrices | null): Promise<UsageReport> {
  const totals = await store.usageTotals(query);
  const rows = totals.map((total): UsageRow => {
    const price = pricesFor(prices, total.model);
    return { ...total, cost: price === null ? null : costOf(total, price) };
  });
  const sum = (pick: (row: UsageRow) => number) => rows.reduce((total, row) => total + pick(row), 0);
  return {
    sinceMs: query.sinceMs,
    by: query.by,
    rows,
    total: {
      turns: sum((row) => row.turns),
      steps: sum((row) => row.steps),
      inputTokens: sum((row) => row.inputTokens),
      cachedInputTokens: sum((row) => row.cachedInputTokens),
      outputTokens: sum((row) => row.outputTokens),
      reasoningTokens: sum((row) => row.reasoningTokens),
      cost: prices === null ? null : sum((row) => row.cost ?? 0),
    },
    priced: prices !== null,
  };
}
