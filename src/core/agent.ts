/**
 * The agent core's front door. Adapters hand it a Turn and get a Reply; it
 * runs one turn at a time per conversation, in arrival order, and bounds the
 * whole bot's work by what it waits on: turns at once by sessions (a FIFO
 * queue beyond them, itself bounded), cells running and sessions being
 * acquired at once by CPUs (a FIFO queue each), and each user's share. It runs each platform event once, stops a turn on
 * request, and resets a conversation. It knows no chat platform and no
 * Docker: only the ModelClient, Sandbox and Store seams, and the skill
 * library's proposal seam (SkillProposer) when it is given one.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ThreadbookError, userMessage } from "../errors.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import { silentLogger, withLogContext, type Logger } from "../log.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import type { Store } from "../store/store.ts";
import { defaultLeaseTimes, takeLease, type HeldLease, type LeaseTiming } from "./conversation-lease.ts";
import { FileDownloads } from "./file-downloads.ts";
import type { ModelClient } from "./model/model-client.ts";
import type { InterruptedTurn } from "./interrupted-turn.ts";
import { exportNotebook, type NotebookFile } from "./notebook-export.ts";
import { SANDBOX_LIBRARIES } from "./prompt.ts";
import { SafeProgress } from "./safe-progress.ts";
import type { SkillProposer } from "../skills/skill-proposer.ts";
import { shutdownMessage, stopReasonOf, type StopReason } from "./stop-reason.ts";
import { GateFullError, TurnGate, type GateSlot } from "./turn-gate.ts";
import { TurnRun, type AgentSettings } from "./turn-run.ts";
import { budgetRefusal, TokenBudgets } from "./token-budgets.ts";
import { silentObserver, type TurnEnd, type TurnObserver } from "./turn-observer.ts";
import { silentProgress, type Progress, type Reply, type Turn, type TurnUser } from "./turn.ts";
import { UserLimits } from "./user-limits.ts";
import { watchTurn } from "./turn-watchdog.ts";
import { keepVariables } from "./kept-variables.ts";

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
  /**
   * The skill library, where the model's proposals go (a SkillLibrary fits).
   * Without it the model is not offered the proposal tool.
   */
  skills?: SkillProposer;
  /** Told how turns, cells and model requests end, for metrics; nothing by default. */
  observer?: TurnObserver;
  /**
   * A turn that shows no progress this long is stopped, and abandoned (its
   * session replaced, its slot freed) if it does not end soon after; by
   * default longer than a cell and a model step together may take.
   */
  watchdogMs?: number;
  /**
   * Fetches the files of admitted turns (`Turn.files`), bounded across the
   * bot; by default under the system's temporary folder, at most 256 MB a
   * file and four at once.
   */
  downloads?: FileDownloads;
  /**
   * The conversation lease's timing (conversation-lease.ts): 30 s to live, a
   * look every 250 ms while waiting, and a wait of at most a whole turn's time
   * plus two lifetimes, by default.
   */
  leaseTiming?: Partial<LeaseTiming>;
  /**
   * Lets go of a conversation's session after each turn (Sandbox.detach),
   * before its lease is given up, so that the next turn, on whichever replica
   * takes the lease, resumes it: for replicas sharing a store and a host.
   * Off by default: one process keeps its sessions.
   */
  handOffSessions?: boolean;
}

/** A turn that ran a cell, and the slot it holds until its variables are saved. */
interface HeldRun {
  run: TurnRun;
  slot: GateSlot;
}

/** Past a cell's limit, how long a turn may show nothing before the watchdog stops it: a slow model step and its retries. */
const defaultStallMarginMs = 10 * 60_000;
/** How long a turn the watchdog stopped may take to end before it is abandoned. */
const watchdogGraceMs = 30_000;

export const stalledMessage = "This answer stopped making progress, so it was ended and its Python session restarted (variables are gone). Please ask again.";

/** How a caller follows and controls one turn. */
export interface HandleOptions {
  /** Shown progress: the adapter's rendering of what happens while the turn runs. */
  progress?: Progress;
  /** Stops the turn when it aborts, as `stop` does; its reason may be a StopReason. */
  signal?: AbortSignal;
}

/** What is going on in a conversation, for a status command. */
export interface ConversationStatus {
  /** A turn of the conversation is running. */
  running: boolean;
  /** The conversation's turns waiting behind it. */
  waiting: number;
  /** Turns running and waiting for a slot across the whole bot. */
  botRunning: number;
  botWaiting: number;
}

export const busyMessage = "threadbook is busy with other questions right now. Try again in a minute.";

export class Agent {
  readonly #options: AgentOptions;
  readonly #logger: Logger;
  readonly #observer: TurnObserver;
  readonly #queue = new KeyedQueue();
  readonly #gate: TurnGate;
  /** Cells running at once, across every turn; a turn waiting on the model holds none. */
  readonly #cells: TurnGate;
  /** Sessions being acquired at once: bounded by CPUs too, for starting a container is CPU work. */
  readonly #starts: TurnGate;
  readonly #userLimits: UserLimits;
  readonly #budgets: TokenBudgets;
  #downloads: FileDownloads | undefined;
  readonly #leaseTiming: LeaseTiming;
  /** The running turn of each conversation that has one, to stop it. */
  readonly #running = new Map<string, AbortController>();
  #shuttingDown = false;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#observer = options.observer ?? silentObserver;
    const capacity = options.settings.capacity;
    this.#gate = new TurnGate({ maxRunning: capacity.maxTurns, maxQueued: capacity.maxQueued });
    // Unbounded queue: no more cells wait than turns run, one each.
    this.#cells = new TurnGate({ maxRunning: capacity.maxCells, maxQueued: Infinity });
    this.#starts = new TurnGate({ maxRunning: capacity.maxCells, maxQueued: Infinity });
    this.#userLimits = new UserLimits(capacity, options.store);
    this.#budgets = new TokenBudgets(options.settings.usage, options.store);
    this.#downloads = options.downloads;
    const ttlMs = options.leaseTiming?.ttlMs ?? defaultLeaseTimes.ttlMs;
    this.#leaseTiming = {
      ttlMs,
      pollMs: options.leaseTiming?.pollMs ?? defaultLeaseTimes.pollMs,
      maxWaitMs: options.leaseTiming?.maxWaitMs ?? options.settings.turn.timeoutMs + 2 * ttlMs,
    };
  }

  /**
   * Runs one turn and returns its reply, after any earlier turn of the same
   * conversation has finished and a turn slot is free (reporting `queued`
   * while it waits). Failures of the model, the sandbox or the store, and a
   * refusal (busy, a user over a limit), end in a reply whose `error` says
   * so; a stopped turn ends in a reply that says who stopped it; only a bug
   * throws. A turn whose `eventKey` was claimed before resolves with null:
   * it is a duplicate delivery, dropped.
   */
  handle(turn: Omit<Turn, "eventKey">, options?: HandleOptions): Promise<Reply>;
  handle(turn: Turn, options?: HandleOptions): Promise<Reply | null>;
  handle(turn: Turn, options: HandleOptions = {}): Promise<Reply | null> {
    // Every line logged while the turn runs, in any layer, names its conversation (and its turn, once recorded).
    return withLogContext({ conversation: turn.conversationKey }, async () => {
      const arrived = performance.now();
      const seconds = () => (performance.now() - arrived) / 1000;
      let reply: Reply | null;
      try {
        reply = await this.#handle(turn, options);
      } catch (error) {
        this.#observer.turnEnded("failed", seconds());
        throw error;
      }
      if (reply !== null) {
        const end = turnEnd(reply);
        this.#observer.turnEnded(end, end === "refused" ? null : seconds());
      }
      return reply;
    });
  }

  async #handle(turn: Turn, options: HandleOptions): Promise<Reply | null> {
    const events = new SafeProgress(options.progress ?? silentProgress, this.#logger);
    const logger = this.#logger.child({ conversation: turn.conversationKey });
    if (turn.eventKey !== undefined && !(await this.#claim(turn.eventKey, logger))) return null;
    if (this.#shuttingDown) return this.#refuse(turn, events, shutdownMessage);
    const spent = await this.#budgets.spent(turn.user).catch((error: unknown) => ({ failure: error }));
    if (spent !== null && "failure" in spent) return this.#refuse(turn, events, userMessage(spent.failure));
    if (spent !== null) {
      logger.info({ user: userKey(turn.user), budget: spent.budget, used: spent.used }, "turn refused: a daily token budget is used up");
      return this.#refuse(turn, events, budgetRefusal(spent));
    }
    const admission = await this.#userLimits.admit(turn.user).catch((error: unknown) => ({ failure: error }));
    if ("failure" in admission) return this.#refuse(turn, events, userMessage(admission.failure));
    if ("refusal" in admission) {
      logger.info({ user: userKey(turn.user) }, "turn refused: the user is over a limit");
      return this.#refuse(turn, events, admission.refusal);
    }
    const stop = new AbortController();
    const signal = options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal]);
    try {
      return await this.#queue.run(
        turn.conversationKey,
        async () => {
          let lease: HeldLease;
          try {
            lease = await this.#takeLease(turn.conversationKey, signal, () => events.report({ type: "queued", ahead: 0, reason: "conversation" }));
          } catch (error) {
            admission.recorded();
            if (signal.aborted) return this.#refuse(turn, events, this.#shuttingDown ? shutdownMessage : stoppedWhileWaiting(signal));
            if (error instanceof ThreadbookError) return this.#refuse(turn, events, userMessage(error));
            throw error;
          }
          // A turn whose lease lapses (taken over after this replica stalled) stops: another may run the conversation now.
          const onLost = () => stop.abort({ kind: "user", by: "threadbook (its hold on this conversation lapsed)" } satisfies StopReason);
          lease.lost.addEventListener("abort", onLost, { once: true });
          let keep: HeldRun | undefined;
          try {
            const held = await this.#runHolding(turn, events, logger, admission, stop, signal);
            keep = held.keep;
            return held.reply;
          } finally {
            lease.lost.removeEventListener("abort", onLost);
            // The lease and the turn's slot are let go of once the variables are saved, so no other
            // replica takes the session meanwhile, and no other turn counts on a session still saving.
            const letGo = async () => {
              keep?.slot.leave();
              if (this.#options.handOffSessions === true) {
                await this.#options.sandbox.detach(turn.conversationKey).catch((error: unknown) => logger.warn({ err: error }, "could not hand the session off"));
              }
              await lease.release();
            };
            if (keep === undefined || !this.#keepVariablesAfter(keep.run, turn.conversationKey, logger, letGo)) await letGo();
          }
        },
        (ahead) => events.report({ type: "queued", ahead, reason: "conversation" }),
      );
    } finally {
      admission.ticket.release();
    }
  }

  /**
   * The rest of a turn once its conversation's lease is held: a slot, its
   * files, then the run under the watchdog. `keep` is the run whose variables
   * are to be saved (one that ran a cell), with the slot it still holds: the
   * caller leaves it once they are.
   */
  async #runHolding(
    turn: Turn,
    events: SafeProgress,
    logger: Logger,
    admission: { recorded: () => void },
    stop: AbortController,
    signal: AbortSignal,
  ): Promise<{ reply: Reply; keep?: HeldRun }> {
    let slot;
    try {
      slot = await this.#gate.enter((ahead) => events.report({ type: "queued", ahead, reason: "capacity" }), signal);
    } catch (error) {
      admission.recorded();
      if (error instanceof GateFullError) {
        logger.warn({ running: this.#gate.running, waiting: this.#gate.waiting }, "turn refused: the queue is full");
        return { reply: await this.#refuse(turn, events, busyMessage) };
      }
      if (signal.aborted) return { reply: await this.#refuse(turn, events, stoppedWhileWaiting(signal)) };
      throw error;
    }
    this.#running.set(turn.conversationKey, stop);
    let handedOn = false;
    try {
      if (this.#shuttingDown || signal.aborted) {
        return { reply: await this.#refuse(turn, events, this.#shuttingDown ? shutdownMessage : stoppedWhileWaiting(signal)) };
      }
      const fetched = await this.#fetchFiles(turn, signal, logger);
      if ("refusal" in fetched) return { reply: await this.#refuse(turn, events, fetched.refusal) };
      const { model, sandbox, store, settings } = this.#options;
      const run = new TurnRun(fetched.turn, events, {
        model, sandbox, store, settings, signal, logger: this.#logger, cells: this.#cells, starts: this.#starts,
        libraries: this.#options.libraries ?? SANDBOX_LIBRARIES,
        skills: this.#options.skills,
        observer: this.#observer,
        onRecorded: admission.recorded,
        budgets: this.#budgets,
      });
      const stallMs = this.#options.watchdogMs ?? settings.sandbox.cellTimeoutMs + defaultStallMarginMs;
      const reply = await watchTurn(run.execute(), {
        lastProgressAt: () => events.lastReportAt,
        stallMs,
        graceMs: Math.min(stallMs, watchdogGraceMs),
        onStall: () => {
          logger.error({ stallMs }, "turn made no progress; stopping it");
          stop.abort({ kind: "user", by: "the watchdog" } satisfies StopReason);
        },
        abandon: async () => {
          logger.error("stopped turn did not end; abandoning it and replacing its session");
          await sandbox.release(turn.conversationKey).catch((error: unknown) => logger.warn({ err: error }, "could not end the stalled turn's session"));
          return this.#refuse(turn, events, stalledMessage);
        },
      });
      // A turn that ran no cell left the namespace as it was.
      if (reply.cells.length === 0) return { reply };
      handedOn = true;
      return { reply, keep: { run, slot } };
    } finally {
      admission.recorded();
      this.#running.delete(turn.conversationKey);
      if (!handedOn) slot.leave();
      await events.flush();
    }
  }

  #takeLease(conversationKey: string, signal: AbortSignal, onWaiting: () => void): Promise<HeldLease> {
    return takeLease(this.#options.store.leases, conversationKey, this.#leaseTiming, { signal, onWaiting, logger: this.#logger });
  }

  /**
   * Stops the conversation's running turn, as a Stop button does: a running
   * cell is interrupted (variables kept), a model answer is abandoned, and the
   * turn ends saying who stopped it. False when no turn was running.
   */
  stop(conversationKey: string, by: string): boolean {
    const running = this.#running.get(conversationKey);
    if (running === undefined || running.signal.aborted) return false;
    running.abort({ kind: "user", by } satisfies StopReason);
    return true;
  }

  /**
   * Forgets the conversation, as `/reset` does: stops its running turn (said
   * to be stopped by `by`), then ends its session and drops its transcript and
   * kept attachments (the audit log stays). Turns that were waiting run after
   * it, in a fresh conversation.
   */
  reset(conversationKey: string, by = "a reset"): Promise<void> {
    this.stop(conversationKey, by);
    return this.#queue.run(conversationKey, async () => {
      // Under the lease: a turn of the conversation on another replica finishes first.
      const lease = await this.#takeLease(conversationKey, AbortSignal.timeout(this.#leaseTiming.maxWaitMs), () => undefined);
      try {
        await this.#options.sandbox.release(conversationKey);
        await this.#options.store.resetConversation(conversationKey);
      } finally {
        await lease.release();
      }
    });
  }

  /** The platform's turns a crash left unanswered, each given once, oldest first (interrupted-turn.ts). */
  async takeInterruptedTurns(platform: string): Promise<InterruptedTurn[]> {
    const turns = await this.#options.store.takeInterruptedTurns(platform);
    return turns.map(({ id, conversationKey, user, text, startedAt }) => ({ id, conversationKey, user, text, startedAt }));
  }

  /** Whether the conversation was ever recorded: a thread threadbook answered in, by any process. */
  async knowsConversation(conversationKey: string): Promise<boolean> {
    return (await this.#options.store.getConversation(conversationKey)) !== null;
  }

  /**
   * Records a person's verdict on a turn's reply; a later one by the same
   * person replaces it. False, and nothing recorded, when the turn is not
   * the conversation's (a forged or stale button).
   */
  async recordFeedback(conversationKey: string, turnId: string, rating: "positive" | "negative", user: TurnUser): Promise<boolean> {
    const turn = await this.#options.store.getTurn(turnId);
    if (turn === null || turn.conversationKey !== conversationKey) return false;
    await this.#options.store.recordFeedback({ turnId, rating, user });
    return true;
  }

  /**
   * The conversation as a Jupyter notebook, `<title>.ipynb`, built from the
   * store: every question, cell with its outputs, and answer since its last
   * reset (a turn still running is in it as far as it got). Null when the
   * conversation does not exist.
   */
  exportNotebook(conversationKey: string): Promise<NotebookFile | null> {
    return exportNotebook(this.#options.store.notebook, conversationKey);
  }

  /** Whether a turn of the conversation runs, how many wait, and how busy the bot is. */
  status(conversationKey: string): ConversationStatus {
    const pending = this.#queue.pending(conversationKey);
    const running = this.#running.has(conversationKey);
    return { running, waiting: Math.max(0, pending - (running ? 1 : 0)), botRunning: this.#gate.running, botWaiting: this.#gate.waiting };
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

  /** For shutdown: turns handed in from now on, and those waiting, are refused; running ones go on. */
  stopTaking(): void {
    this.#shuttingDown = true;
  }

  /**
   * For shutdown: every running turn is stopped (a running cell interrupted,
   * a model answer abandoned) and recorded as failed right away; waiting turns
   * and turns handed in later are refused.
   */
  interrupt(): void {
    this.#shuttingDown = true;
    for (const running of this.#running.values()) running.abort({ kind: "shutdown" } satisfies StopReason);
  }

  /** Turns running, and turns waiting for a slot, across the whole bot. */
  load(): { running: number; waiting: number } {
    return { running: this.#gate.running, waiting: this.#gate.waiting };
  }

  /**
   * Ends the conversation's session as an operator asks (`threadbook sessions
   * stop`): stops its running turn, said to be stopped by `by`, then removes
   * its container. The conversation stays: its next turn starts a new
   * session, is told the variables are gone, and gets its kept attachments
   * back. False when it had no running turn.
   */
  async endSession(conversationKey: string, by: string): Promise<boolean> {
    const stopped = this.stop(conversationKey, by);
    await this.#queue.run(conversationKey, () => this.#options.sandbox.release(conversationKey));
    return stopped;
  }

  /** Turns running or waiting for the conversation. */
  pending(conversationKey: string): number {
    return this.#queue.pending(conversationKey);
  }

  /** Settles once no turn is running or waiting, for a clean shutdown. */
  idle(): Promise<void> {
    return this.#queue.drained();
  }

  /**
   * After the reply is handed back (so it adds nothing to the time to answer),
   * saves the session's variables, then calls `then` (letting go of the
   * conversation); queued behind the turn, so the conversation's next turn
   * starts after it. False when nothing is to be saved, and `then` is the
   * caller's to call.
   */
  #keepVariablesAfter(run: TurnRun, conversationKey: string, logger: Logger, then: () => Promise<void>): boolean {
    const limitMb = this.#options.settings.sandbox.snapshotMb ?? 0;
    const session = run.session;
    if (limitMb <= 0 || session === undefined || this.#shuttingDown) return false;
    void this.#queue.run(conversationKey, async () => {
      try {
        await keepVariables(session, this.#options.store, limitMb * 1024 * 1024, logger);
      } finally {
        await then();
      }
    }).catch((error: unknown) => logger.warn({ err: error }, "keeping the variables failed"));
    return true;
  }

  /** True the first time the event is seen; a duplicate is logged and dropped. A store that fails lets the turn run. */
  async #claim(eventKey: string, logger: Logger): Promise<boolean> {
    try {
      if (await this.#options.store.claimEvent(eventKey)) return true;
      logger.info({ eventKey }, "duplicate event dropped");
      return false;
    } catch (error) {
      if (!(error instanceof ThreadbookError)) throw error;
      logger.warn({ err: error, eventKey }, "could not claim the event; running it");
      return true;
    }
  }

  /**
   * The turn with its files fetched into its attachments, once it was
   * admitted and holds a slot; or why it cannot run (a file that could not be
   * fetched, a stop while fetching).
   */
  async #fetchFiles(turn: Turn, signal: AbortSignal, logger: Logger): Promise<{ turn: Turn } | { refusal: string }> {
    const files = turn.files ?? [];
    if (files.length === 0) return { turn };
    this.#downloads ??= new FileDownloads({ directory: join(tmpdir(), `threadbook-incoming-${process.pid}`), maxBytes: 256 * 1024 * 1024, maxAtOnce: 4 });
    try {
      const fetched = await this.#downloads.fetch(files, signal);
      return { turn: { ...turn, attachments: [...turn.attachments, ...fetched], files: [] } };
    } catch (error) {
      if (signal.aborted) return { refusal: stoppedWhileWaiting(signal) };
      if (!(error instanceof ThreadbookError)) {
        logger.error({ err: error }, "an attachment could not be fetched");
        return { refusal: "threadbook could not fetch the attached files. The details are in its log." };
      }
      logger.info({ err: error, details: error.details }, "an attachment could not be fetched");
      return { refusal: userMessage(error) };
    }
  }

  /** A reply for a turn that never ran: nothing of it was kept, so its attachments must be sent again. */
  async #refuse(turn: Turn, events: SafeProgress, message: string): Promise<Reply> {
    events.report({ type: "turn-failed", message });
    await events.flush();
    return {
      text: "", cells: [], files: [], limit: null, error: message, filesOmitted: [], stoppedBy: null, turnId: null,
      attachmentsNotPlaced: [...turn.attachments, ...(turn.files ?? [])].map((attachment) => attachment.name),
      proposedSkills: [],
    };
  }
}

/** A duplicate never gets here; a refusal is the only reply without a recorded turn. */
function turnEnd(reply: Reply): TurnEnd {
  if (reply.turnId === null) return "refused";
  if (reply.stoppedBy !== null) return "stopped";
  if (reply.error !== null) return "failed";
  return reply.limit === null ? "answered" : "limit";
}

function userKey(user: TurnUser): string {
  return `${user.platform}:${user.id}`;
}

/** What a turn stopped before it began is told; `signal` has aborted. */
function stoppedWhileWaiting(signal: AbortSignal): string {
  const stop = stopReasonOf(signal);
  return stop?.kind === "user" ? `Stopped by ${stop.by} before it started.` : shutdownMessage;
}
