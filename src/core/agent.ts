/**
 * The agent core's front door. Adapters hand it a Turn and a Progress and get
 * a Reply; it runs one turn at a time per conversation, in arrival order.
 * It knows no chat platform and no Docker: only the ModelClient, Sandbox and
 * Store seams.
 */
import { KeyedQueue } from "../keyed-queue.ts";
import { silentLogger, type Logger } from "../log.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import type { Store } from "../store/store.ts";
import type { ModelClient } from "./model/model-client.ts";
import { SANDBOX_LIBRARIES } from "./prompt.ts";
import { SafeProgress } from "./safe-progress.ts";
import { TurnRun, type AgentSettings } from "./turn-run.ts";
import { silentProgress, type Progress, type Reply, type Turn } from "./turn.ts";

export type { AgentSettings } from "./turn-run.ts";

export interface AgentOptions {
  model: ModelClient;
  sandbox: Sandbox;
  store: Store;
  /** A whole Config fits. */
  settings: AgentSettings;
  logger?: Logger;
  /** Libraries the sandbox offers, as the system prompt lists them; the sandbox image's by default. */
  libraries?: readonly string[];
}

/** How a caller follows and controls one turn. */
export interface HandleOptions {
  /** Shown progress: the adapter's rendering of what happens while the turn runs. */
  progress?: Progress;
  /** Stops the turn when it aborts, as `stop` does. */
  signal?: AbortSignal;
}

export class Agent {
  readonly #options: AgentOptions;
  readonly #logger: Logger;
  readonly #queue = new KeyedQueue();
  readonly #interruption = new AbortController();

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Runs one turn and returns its reply, after any earlier turn of the same
   * conversation has finished (reporting `queued` while it waits). Failures
   * of the model, the sandbox or the store end in a reply whose `error` says
   * what failed; only a bug throws.
   */
  handle(turn: Turn, options: HandleOptions = {}): Promise<Reply> {
    const events = new SafeProgress(options.progress ?? silentProgress, this.#logger);
    return this.#queue.run(
      turn.conversationKey,
      async () => {
        const { model, sandbox, store, settings } = this.#options;
        const services = { model, sandbox, store, settings, logger: this.#logger, libraries: this.#options.libraries ?? SANDBOX_LIBRARIES, interruption: this.#interruption.signal };
        try {
          return await new TurnRun(turn, events, services).execute();
        } finally {
          await events.flush();
        }
      },
      (ahead) => events.report({ type: "queued", ahead }),
    );
  }

  /**
   * Forgets the conversation, as `/reset` does: ends its session and drops
   * its transcript and kept attachments (the audit log stays). Waits for a
   * turn in progress.
   */
  reset(conversationKey: string): Promise<void> {
    return this.#queue.run(conversationKey, async () => {
      await this.#options.sandbox.release(conversationKey);
      await this.#options.store.resetConversation(conversationKey);
    });
  }

  /**
   * Ends a conversation nobody can continue (the CLI's unnamed one) as its
   * process stops, without waiting for a turn in progress: the session goes at
   * once, so a running cell ends now and its turn fails. Then, once the
   * conversation's turns are over, it is reset, which also removes any session
   * a turn acquired meanwhile.
   */
  async end(conversationKey: string): Promise<void> {
    await this.#options.sandbox.release(conversationKey);
    await this.reset(conversationKey);
  }

  /**
   * For shutdown: every turn, running or waiting, stops at its next step (a
   * model answer in progress is abandoned at once) and is recorded as failed
   * right away. A running cell is not stopped: it runs on until `end` removes
   * its session, or to its limit. Turns handed in later fail at once.
   */
  interrupt(): void {
    this.#interruption.abort();
  }

  /** Turns running or waiting for the conversation. */
  pending(conversationKey: string): number {
    return this.#queue.pending(conversationKey);
  }

  /** Settles once no turn is running or waiting, for a clean shutdown. */
  idle(): Promise<void> {
    return this.#queue.drained();
  }
}
