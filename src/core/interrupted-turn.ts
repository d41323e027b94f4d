/**
 * A question a crash left unanswered, as adapters see it: the store fails
 * such turns (on SQLite as it opens; on Postgres once their replica's lease
 * has expired) and an adapter takes them to tell each thread to ask again.
 */
import type { TurnUser } from "./turn.ts";

export interface InterruptedTurn {
  id: string;
  conversationKey: string;
  user: TurnUser;
  /** The question as it was asked. */
  text: string;
  /** Epoch milliseconds. */
  startedAt: number;
}

/** What an adapter needs to tell the threads of its platform's interrupted turns (the Agent fits it). */
export interface InterruptedTurnSource {
  /** The platform's turns a crash left unanswered, each given once, oldest first. */
  takeInterruptedTurns(platform: string): Promise<InterruptedTurn[]>;
}
