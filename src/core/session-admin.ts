/**
 * What an operator can see and do to sessions from outside the chat
 * (`threadbook sessions`): list the live ones with their conversation, and
 * stop or reset one through the same agent calls the chat's stop and reset use.
 */
import type { SessionCensus } from "../sandbox/session-census.ts";
import type { Store } from "../store/store.ts";
import type { Agent } from "./agent.ts";

export interface SessionView {
  /** The conversation it holds; null for a container no conversation is bound to (being claimed, or left over). */
  conversation: string | null;
  sessionId: string;
  host: string;
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  /** A turn of the conversation runs now. */
  running: boolean;
  /** Since the conversation was last active; 0 while a turn runs, null when not known. */
  idleMs: number | null;
}

/** Who the thread is told stopped its turn. */
export const operatorName = "an operator";

export class SessionAdmin {
  readonly #agent: Agent;
  readonly #store: Store;
  readonly #census: SessionCensus;
  readonly #now: () => number;

  constructor(options: { agent: Agent; store: Store; census: SessionCensus; now?: () => number }) {
    this.#agent = options.agent;
    this.#store = options.store;
    this.#census = options.census;
    this.#now = options.now ?? Date.now;
  }

  /** The live sessions, the longest idle first. */
  async list(): Promise<SessionView[]> {
    const [live, bound] = await Promise.all([this.#census.liveSessions(), this.#store.listBoundConversations()]);
    const bySession = new Map(bound.map((conversation) => [conversation.sessionId, conversation]));
    const now = this.#now();
    const views = live.map((session): SessionView => {
      const conversation = bySession.get(session.id);
      const running = conversation !== undefined && this.#agent.status(conversation.key).running;
      return {
        conversation: conversation?.key ?? null,
        sessionId: session.id,
        host: session.host,
        memoryBytes: session.memoryBytes,
        memoryLimitBytes: session.memoryLimitBytes,
        running,
        idleMs: running ? 0 : conversation === undefined ? null : Math.max(0, now - conversation.updatedAt),
      };
    });
    return views.sort((a, b) => (b.idleMs ?? -1) - (a.idleMs ?? -1));
  }

  /**
   * Stops the conversation's running turn (its thread is told an operator
   * stopped it) and ends its session; the conversation and its files stay.
   * Null when no such conversation is known.
   */
  async stop(conversation: string): Promise<{ stopped: boolean } | null> {
    if (!(await this.#known(conversation))) return null;
    return { stopped: await this.#agent.endSession(conversation, operatorName) };
  }

  /**
   * As `reset` in the thread: stops its running turn, ends its session,
   * forgets its messages and files. False when no such conversation is known.
   */
  async reset(conversation: string): Promise<boolean> {
    if (!(await this.#known(conversation))) return false;
    await this.#agent.reset(conversation, operatorName);
    return true;
  }

  async #known(conversation: string): Promise<boolean> {
    return (await this.#store.getConversation(conversation)) !== null;
  }
}
