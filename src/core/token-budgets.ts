/**
 * The daily token budgets: one user's, and one workspace's (a Slack team, a
 * Discord guild), in model tokens (input plus output) per UTC day, 0 for
 * none. They are counted in the store's usage ledger, so a restart does not
 * reset them. A turn asked when a budget is used up is refused, saying when
 * it renews; a turn that uses it up while it runs ends before its next model
 * step with the limit "budget".
 */
import type { BudgetName, Store } from "../store/store.ts";
import type { TurnUser } from "./turn.ts";

export interface TokenBudgetSettings {
  /** One user's tokens per UTC day; 0: no budget. */
  userTokensPerDay: number;
  /** One workspace's tokens per UTC day; 0: no budget. */
  workspaceTokensPerDay: number;
}

/** A budget used up. */
export interface SpentBudget {
  budget: BudgetName;
  /** The budget, in tokens a day. */
  limit: number;
  used: number;
  /** When it renews: the next UTC midnight. */
  renewsAt: number;
}

const dayMs = 86_400_000;

export class TokenBudgets {
  readonly #settings: TokenBudgetSettings;
  readonly #store: Store;

  constructor(settings: TokenBudgetSettings, store: Store) {
    this.#settings = settings;
    this.#store = store;
  }

  /** The user's or their workspace's budget, if one is used up today (the user's is looked at first). */
  async spent(user: TurnUser, now = Date.now()): Promise<SpentBudget | null> {
    const dayStart = Math.floor(now / dayMs) * dayMs;
    const renewsAt = dayStart + dayMs;
    const { userTokensPerDay, workspaceTokensPerDay } = this.#settings;
    if (userTokensPerDay > 0) {
      const used = await this.#store.tokensUsedSince({ kind: "user", platform: user.platform, id: user.id }, dayStart);
      if (used >= userTokensPerDay) return { budget: "user", limit: userTokensPerDay, used, renewsAt };
    }
    if (workspaceTokensPerDay > 0 && user.workspace !== null) {
      const used = await this.#store.tokensUsedSince({ kind: "workspace", platform: user.platform, workspace: user.workspace }, dayStart);
      if (used >= workspaceTokensPerDay) return { budget: "workspace", limit: workspaceTokensPerDay, used, renewsAt };
    }
    return null;
  }
}

/** Why a turn is refused: the budget, and when it renews. */
export function budgetRefusal(spent: SpentBudget, now = Date.now()): string {
  return `${whose(spent)} ${renewal(spent, now)} Until then I cannot take new questions${spent.budget === "user" ? " from you" : " here"}.`;
}

/** What a turn that used the budget up ends with. */
export function budgetEnding(spent: SpentBudget, now = Date.now()): string {
  return `I stopped here: ${whose(spent).charAt(0).toLowerCase()}${whose(spent).slice(1)} ${renewal(spent, now)}`;
}

function whose(spent: SpentBudget): string {
  const tokens = `${spent.limit.toLocaleString("en-US")} model tokens`;
  return spent.budget === "user"
    ? `Your daily budget of ${tokens} is used up.`
    : `This workspace's daily budget of ${tokens} is used up.`;
}

function renewal(spent: SpentBudget, now: number): string {
  const minutes = Math.max(1, Math.ceil((spent.renewsAt - now) / 60_000));
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  const wait = hours === 0 ? plural(minutes, "minute") : rest === 0 ? plural(hours, "hour") : `${plural(hours, "hour")} ${plural(rest, "minute")}`;
  return `It renews at midnight UTC, in ${wait}.`;
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}
