/**
 * One turn, start to end: the conversation's session (with the attachments
 * kept from earlier turns put back if it was lost), the attachments, the
 * earlier turns, then model step → cells → results until the model answers
 * or a limit ends the turn. A failure of the machinery (a ThreadbookError)
 * ends the turn with a plain message and whatever cells ran; anything else
 * is a bug and is thrown. When the turn's `signal` aborts (a person's stop,
 * a reset, shutdown), a running cell is interrupted, a model answer in
 * progress is abandoned, and the turn ends with what it did so far.
 */
import { setTimeout as wait } from "node:timers/promises";
import type { Config } from "../config.ts";
import { ThreadbookError, userMessage } from "../errors.ts";
import { addLogContext, type Logger } from "../log.ts";
import type { Sandbox, Session } from "../sandbox/sandbox.ts";
import type { Store } from "../store/store.ts";
import { describeAttachments, placeAttachments } from "./attachments.ts";
import { cellOutcome, cellSummary } from "./cell-summary.ts";
import { notebookAnswer, notebookAttachments } from "./notebook-cell.ts";
import { trimHistory } from "./history.ts";
import { describeRestoration, keepAttachments, restoreAttachments } from "./kept-attachments.ts";
import { describeVariables, restoreVariables, variablesLine, type VariablesRestoration } from "./kept-variables.ts";
import type { CodeCall, ModelClient, ModelStep, ProposalCall, TranscriptItem } from "./model/model-client.ts";
import { systemPrompt } from "./prompt.ts";
import { promptCacheKey } from "./prompt-cache-key.ts";
import { rateLimitDecision } from "./rate-limit-wait.ts";
import { budgetEnding, type SpentBudget, type TokenBudgets } from "./token-budgets.ts";
import { carryOutProposal, proposalLine, proposalName, proposalsOffOutput, tooManyProposalsOutput } from "./propose-call.ts";
import { sessionSkills, skillScope, visibleSkills } from "../skills/session-skills.ts";
import { TurnFiles } from "./reply-files.ts";
import { runCell } from "./run-cell.ts";
import type { SafeProgress } from "./safe-progress.ts";
import type { SkillProposer } from "../skills/skill-proposer.ts";
import { SESSION_LOST_NOTE, SESSION_REPLACED_NOTE, sessionContinuity } from "./session-continuity.ts";
import { shutdownMessage, stopReasonOf, TurnStoppedSignal } from "./stop-reason.ts";
import { TurnBudget } from "./turn-budget.ts";
import { turnEgress } from "./turn-egress.ts";
import { installedPackagesNote } from "./installed-packages.ts";
import type { GateSlot, TurnGate } from "./turn-gate.ts";
import type { RestartReason, TurnObserver } from "./turn-observer.ts";
import { TurnTranscript } from "./turn-transcript.ts";
import type { LimitName, ProposedSkill, Reply, ReplyCell, ReplyFile, Turn } from "./turn.ts";

/** The settings a turn reads; a whole Config fits. */
export type AgentSettings = Pick<Config, "turn" | "reply"> & {
  capacity: Pick<Config["capacity"], "maxTurns" | "maxCells" | "maxQueued" | "userMaxTurns" | "userTurnsPerHour">;
  model: Pick<Config["model"], "images">;
  sandbox: Pick<Config["sandbox"], "cellTimeoutMs"> & Partial<Pick<Config["sandbox"], "snapshotMb">>;
  skills: Pick<Config["skills"], "autoApprove">;
  usage: Pick<Config["usage"], "userTokensPerDay" | "workspaceTokensPerDay">;
  /** The door out of sessions; absent or not enabled: none is granted. */
  egress?: Config["egress"];
};

export interface TurnServices {
  model: ModelClient;
  sandbox: Sandbox;
  store: Store;
  settings: AgentSettings;
  libraries: readonly string[];
  /** Where the model's skill proposals go; without it the model is not offered the proposal tool. */
  skills: SkillProposer | undefined;
  logger: Logger;
  /** Aborted to stop this turn, its reason a StopReason. */
  signal: AbortSignal;
  /** Cells running at once across the bot: each cell holds a slot while it runs, and waits for one before. */
  cells: TurnGate;
  /** Sessions being acquired at once across the bot (a container start is CPU work too); apart from cells, so a claim from the warm pool does not wait behind a long cell. */
  starts: TurnGate;
  /** Told how cells and model requests end, for metrics. */
  observer?: TurnObserver;
  /** Told once the turn is recorded in the store (it then counts towards the user's hourly limit there). */
  onRecorded?: () => void;
  /** The daily token budgets, looked at before each model step after the first. */
  budgets: TokenBudgets;
}

/** A cell shortened to fit the turn's remaining time still gets this long. */
const minimumCellMs = 1_000;
/** Reading the turn's files gets at least this long, even at the end of the turn's time. */
const collectFloorMs = 15_000;

/**
 * Proposal calls a turn may make, fixes of refused ones included. A proposal
 * is no cell (it runs no code of the model's), so it does not count against
 * THREADBOOK_TURN_MAX_CELLS; each comes in a model step, which counts.
 */
const maxProposalsPerTurn = 10;

interface Ending {
  text: string;
  limit: LimitName | null;
  /** The budget used up, when `limit` is "budget". */
  spent?: SpentBudget;
}

export class TurnRun {
  readonly #turn: Turn;
  readonly #progress: SafeProgress;
  readonly #services: TurnServices;
  readonly #budget: TurnBudget;
  readonly #transcript = new TurnTranscript();
  readonly #cells: ReplyCell[] = [];
  readonly #proposedSkills: ProposedSkill[] = [];
  #proposalCalls = 0;
  /** Variables put back into a new session during this turn, said in the reply. */
  readonly #variablesRestored: VariablesRestoration[] = [];
  #logger: Logger;
  /** The conversation's prompt cache key, the same for every step. */
  readonly #cacheKey: string;
  #turnId: string | undefined;
  #session: Session | undefined;
  #files: TurnFiles | undefined;
  #attachmentsPlaced = false;
  #lastText = "";
  /** Cells begun, the one running included. */
  #cellsStarted = 0;
  /** The cell a stop interrupted, if one did. */
  #cellStopped: number | null = null;

  constructor(turn: Turn, progress: SafeProgress, services: TurnServices) {
    this.#turn = turn;
    this.#progress = progress;
    this.#services = services;
    this.#budget = new TurnBudget(services.settings.turn);
    this.#logger = services.logger.child({ conversation: turn.conversationKey });
    this.#cacheKey = promptCacheKey(turn.conversationKey);
  }

  /** The session the turn ran in, once it has one. */
  get session(): Session | undefined {
    return this.#session;
  }

  async execute(): Promise<Reply> {
    const { store, signal } = this.#services;
    const started = performance.now();
    const recordInterruption = () => this.#recordInterruption();
    this.#progress.report({ type: "turn-started" });
    try {
      this.#turnId = await store.startTurn({ conversationKey: this.#turn.conversationKey, user: this.#turn.user, text: this.#turn.text });
      await store.notebook.recordTurn(this.#turnId, notebookAttachments(this.#turn.attachments));
      this.#services.onRecorded?.();
      this.#logger = this.#logger.child({ turn: this.#turnId });
      addLogContext({ turn: this.#turnId });
      signal.addEventListener("abort", recordInterruption, { once: true });
      const ending = await this.#loop();
      const explanation = ending.limit === null ? "" : ending.spent !== undefined ? budgetEnding(ending.spent) : this.#budget.explain(ending.limit);
      const text = joinParagraphs(ending.text, explanation);
      if (ending.limit !== null) {
        this.#transcript.push({ type: "assistant", text: explanation });
        await this.#saveTranscript();
      }
      const reply = await this.#reply(text, ending.limit, null);
      await store.finishTurn(this.#turnId, { status: ending.limit === null ? "answered" : "limit", limit: ending.limit, budget: ending.spent?.budget ?? null, error: reply.error });
      this.#logger.info({ cells: this.#cells.length, steps: this.#budget.steps, tokens: this.#budget.tokens, limit: ending.limit, files: reply.files.length, ms: Math.round(performance.now() - started) }, "turn finished");
      this.#progress.report({ type: "turn-finished", reply });
      return reply;
    } catch (error) {
      const stop = error instanceof TurnStoppedSignal ? error.reason : stopReasonOf(signal);
      if (stop !== null && stop.kind === "user" && (error instanceof TurnStoppedSignal || error instanceof ThreadbookError)) {
        return await this.#stopped(stop.by);
      }
      if (error instanceof TurnStoppedSignal) error = new ThreadbookError("turn_interrupted", shutdownMessage, { retryable: true });
      if (!(error instanceof ThreadbookError)) {
        const message = userMessage(error);
        this.#logger.error({ err: error }, "turn failed on a bug");
        await this.#recordFailure(message);
        this.#progress.report({ type: "turn-failed", message });
        throw error;
      }
      this.#logger.warn({ err: error, code: error.code, details: error.details }, "turn failed");
      // Once stopping, a failure is the stop's doing (a session ended under a running cell): say so.
      const message = stop?.kind === "shutdown" ? shutdownMessage : userMessage(error);
      await this.#recordFailure(message);
      const reply = await this.#reply(this.#failureText(), null, message);
      this.#progress.report({ type: "turn-failed", message });
      return reply;
    } finally {
      signal.removeEventListener("abort", recordInterruption);
      this.#session?.idle();
    }
  }

  async #loop(): Promise<Ending> {
    const { sandbox, store, settings, model } = this.#services;
    const key = this.#turn.conversationKey;
    this.#throwIfStopped();
    // Listed every turn (the model's instructions); their files are read only when a container is claimed.
    const skills = await visibleSkills(store.skills, skillScope(this.#turn.user, this.#turn.direct));
    const egress = settings.egress?.enabled ? turnEgress(settings.egress, this.#turn, this.#turnId ?? null, store, this.#logger) : undefined;
    // Starting a container is CPU work, as a cell is: a burst of new conversations starts a few at a
    // time, first come first served, rather than all at once and all slowly.
    const starting = await this.#cpuSlot(this.#services.starts);
    if (starting === null) return { text: "", limit: "time" };
    let session: Session;
    try {
      // A running session given other skills since (one approved meanwhile) gets this set now.
      session = await this.#bounded(sandbox.acquire(key, {
        skills: () => sessionSkills(store.skills, skills),
        skillsVersion: skills.map((skill) => skill.id).join(","),
        ...(egress === undefined ? {} : { egress }),
      }));
    } finally {
      starting.leave();
    }
    this.#session = session;
    this.#throwIfStopped();
    const earlier: TranscriptItem[] = await store.loadTranscript(key);
    const continuity = sessionContinuity(await store.getConversation(key), earlier.length > 0, session);
    await store.bindSession(key, session.id);
    this.#logger.debug({ session: session.id.slice(0, 12), continuity }, "session ready");
    this.#progress.report({ type: "session", origin: continuity });

    // Put back before placing the new ones, so a new file does not take the name of one put back.
    const restoration = continuity === "lost" ? await this.#bounded(restoreAttachments(session, store, this.#logger)) : null;
    const variables = continuity === "lost" ? await this.#bounded(restoreVariables(session, store, this.#logger)) : null;
    if (variables !== null) this.#variablesRestored.push(variables);
    const placed = await this.#bounded(placeAttachments(session, this.#turn.attachments));
    this.#attachmentsPlaced = true;
    await keepAttachments(store, key, placed, this.#logger);
    const previews = placed.length > 0 ? await this.#bounded(session.previewFiles(placed.map((file) => file.name))) : [];
    this.#files = new TurnFiles(await this.#bounded(session.listFiles()));
    const history = trimHistory(earlier, settings.turn.historyChars);
    const userText = joinParagraphs(
      continuity !== "lost" ? "" : (variables?.restored.length ?? 0) > 0 ? SESSION_REPLACED_NOTE : SESSION_LOST_NOTE,
      continuity === "lost" && egress !== undefined ? installedPackagesNote(earlier) : "",
      restoration === null ? "" : describeRestoration(restoration),
      variables === null ? "" : describeVariables(variables),
      this.#turn.text,
      placed.length > 0 ? describeAttachments(placed, previews) : "",
    );
    this.#transcript.push({ type: "user", text: userText });
    await this.#saveTranscript();

    const instructions = systemPrompt({
      pythonVersion: session.pythonVersion,
      cellTimeoutMs: settings.sandbox.cellTimeoutMs,
      libraries: this.#services.libraries,
      skills,
      proposeSkills: this.#services.skills !== undefined,
      ...(egress === undefined ? {} : { network: egress.policy.entries.map((entry) => entry.text) }),
    });
    for (;;) {
      this.#throwIfStopped();
      const stepLimit = this.#budget.beforeStep();
      if (stepLimit !== null) return { text: this.#lastText, limit: stepLimit };
      // The turn was let in within the budgets; a step it took since may have used one up.
      const spent = this.#budget.steps > 0 ? await this.#services.budgets.spent(this.#turn.user) : null;
      if (spent !== null) return { text: this.#lastText, limit: "budget", spent };
      this.#budget.steps += 1;
      this.#progress.report({ type: "thinking", step: this.#budget.steps });
      const step = await this.#modelStep(model, instructions, history, this.#budget.steps);
      if (step === null) return { text: this.#lastText, limit: "time" };
      this.#budget.tokens += step.usage.inputTokens + step.usage.outputTokens;
      await store.recordModelUsage({ turnId: this.#turnId ?? "", conversationKey: key, user: this.#turn.user, model: step.model, ...step.usage });
      if (step.text !== "") this.#lastText = step.text;
      // Reasoning, text and calls in the order the model wrote them, so the reasoning goes back in place.
      this.#transcript.push(...step.items);
      if (step.calls.length === 0) {
        await this.#saveTranscript();
        return { text: step.text !== "" ? step.text : "(The model ended the turn without an answer.)", limit: null };
      }
      for (const call of step.calls) {
        this.#throwIfStopped();
        const limit = call.type === "code" ? this.#budget.beforeCell() : this.#budget.remainingMs() <= 0 ? "time" : null;
        if (limit !== null) {
          this.#transcript.closeOpenCalls(`Not run: the turn reached its ${limit} limit.`);
          await this.#saveTranscript();
          return { text: this.#lastText, limit };
        }
        if (call.type === "code") {
          const slot = await this.#cpuSlot(this.#services.cells);
          if (slot === null) {
            this.#transcript.closeOpenCalls("Not run: the turn reached its time limit.");
            await this.#saveTranscript();
            return { text: this.#lastText, limit: "time" };
          }
          try {
            await this.#runCell(session, call);
          } finally {
            slot.leave();
          }
        } else await this.#propose(call);
      }
      await this.#saveTranscript();
    }
  }

  /**
   * One model step, its text reported as it streams in; null when the turn's
   * time ran out while the model was answering. Abandoned at once on a stop.
   * A rate-limited step (429) is tried again after the wait the service asks
   * for, while the thread says the service is busy, as long as the turn's
   * time allows (rate-limit-wait.ts).
   */
  async #modelStep(model: ModelClient, instructions: string, history: TranscriptItem[], step: number): Promise<ModelStep | null> {
    const controller = new AbortController();
    const remaining = this.#budget.remainingMs();
    const timer = Number.isFinite(remaining) ? setTimeout(() => controller.abort(), remaining) : undefined;
    const signal = AbortSignal.any([controller.signal, this.#services.signal]);
    const onTextDelta = (text: string) => this.#progress.report({ type: "answer-delta", step, text });
    const observer = this.#services.observer;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await model.step({
            instructions,
            transcript: this.#transcript.forModel(history),
            signal,
            onTextDelta,
            proposeSkill: this.#services.skills !== undefined,
            cacheKey: this.#cacheKey,
          });
          observer?.modelRequestEnded("ok", answer.usage);
          return answer;
        } catch (error) {
          observer?.modelRequestEnded(signal.aborted ? "abandoned" : "error", null);
          this.#throwIfStopped();
          if (controller.signal.aborted) return null;
          const decision = rateLimitDecision(error, attempt, this.#budget.remainingMs());
          if (decision === null) throw error;
          if ("giveUp" in decision) throw decision.giveUp;
          this.#logger.info({ step, attempt, waitMs: Math.round(decision.waitMs) }, "the model service is rate-limiting; waiting as it asks");
          this.#progress.report({ type: "model-busy", step, retryInMs: decision.waitMs });
          await wait(decision.waitMs, undefined, { signal }).catch(() => undefined);
          this.#throwIfStopped();
          if (controller.signal.aborted) return null;
          this.#progress.report({ type: "thinking", step });
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A CPU slot, to acquire the session or run a cell, at once or after those
   * ahead, the thread told its place while it waits; null when the turn's
   * time runs out first. A stop ends the wait at once (and is thrown).
   */
  async #cpuSlot(gate: TurnGate): Promise<GateSlot | null> {
    const remaining = this.#budget.remainingMs();
    const deadline = AbortSignal.timeout(Number.isFinite(remaining) ? Math.ceil(Math.min(2 ** 31 - 1, Math.max(0, remaining))) : 2 ** 31 - 1);
    try {
      return await gate.enter((ahead) => this.#progress.report({ type: "queued", ahead, reason: "cpu" }), AbortSignal.any([this.#services.signal, deadline]));
    } catch (error) {
      this.#throwIfStopped();
      if (deadline.aborted) return null;
      throw error;
    }
  }

  async #runCell(session: Session, call: CodeCall): Promise<void> {
    const { store, settings } = this.#services;
    const index = this.#cells.length + 1;
    this.#progress.report({ type: "cell-started", index, code: call.code });
    this.#budget.cells += 1;
    this.#cellsStarted += 1;
    const timeoutMs = Math.max(minimumCellMs, Math.min(settings.sandbox.cellTimeoutMs, this.#budget.remainingMs()));
    const { result, item, cell } = await runCell(call, { session, store, turn: this.#turn, turnId: this.#turnId ?? "", timeoutMs, images: settings.model.images, signal: this.#services.signal });
    this.#files?.noteCell(result);
    this.#services.observer?.cellEnded(cellOutcome(result), result.durationMs / 1000);
    if (result.stateLost) this.#services.observer?.sessionRestarted(restartReason(result));
    if (result.stopped) this.#cellStopped = index;
    const output = result.stateLost ? joinParagraphs(item.output, await this.#restoreAfterRestart(session)) : item.output;
    this.#transcript.push({ ...item, output });
    this.#cells.push(cell);
    this.#logger.debug({ cell: index, outcome: cellOutcome(result), ms: Math.round(result.durationMs) }, "cell ran");
    this.#progress.report({ type: "cell-finished", index, ok: result.error === null, summary: cellSummary(result), durationMs: result.durationMs });
  }

  /** Hands a proposed skill to the library; the outcome is the call's result, a stored one also goes in the reply. */
  async #propose(call: ProposalCall): Promise<void> {
    const { skills, settings } = this.#services;
    this.#proposalCalls += 1;
    let output: string;
    if (skills === undefined) output = proposalsOffOutput;
    else if (this.#proposalCalls > maxProposalsPerTurn) output = tooManyProposalsOutput(maxProposalsPerTurn);
    else {
      const index = this.#proposalCalls;
      const name = proposalName(call.arguments);
      this.#progress.report({ type: "proposal-started", index, name });
      const user = this.#turn.user;
      const context = {
        scope: skillScope(user, this.#turn.direct),
        by: `${user.platform}:${user.id}`,
        conversationKey: this.#turn.conversationKey,
        autoApprove: settings.skills.autoApprove,
      };
      const outcome = await carryOutProposal(call, skills, context, this.#logger);
      if (outcome.skill !== null) this.#proposedSkills.push(outcome.skill);
      output = outcome.output;
      this.#progress.report({ type: "proposal-finished", index, name: outcome.skill?.name ?? name, outcome: outcome.outcome, summary: outcome.summary });
    }
    this.#transcript.push({ type: "result", callId: call.callId, output });
  }

  /** Puts the kept attachments back into a session a cell restarted; returns what to tell the model. */
  async #restoreAfterRestart(session: Session): Promise<string> {
    const restoration = await this.#bounded(restoreAttachments(session, this.#services.store, this.#logger));
    this.#files?.noteRestored(restoration.restored);
    const variables = await this.#bounded(restoreVariables(session, this.#services.store, this.#logger));
    if (variables !== null) this.#variablesRestored.push(variables);
    return joinParagraphs(describeRestoration(restoration), variables === null ? "" : describeVariables(variables));
  }

  /** The reply, with the turn's files; a failure to read them is said in `error`, the answer kept. */
  async #reply(text: string, limit: LimitName | null, error: string | null, stoppedBy: string | null = null): Promise<Reply> {
    let files: ReplyFile[] = [];
    let filesOmitted: string[] = [];
    // A stopping process has nobody to hand files to, and its session may be gone already.
    if (this.#session !== undefined && this.#files !== undefined && stopReasonOf(this.#services.signal)?.kind !== "shutdown") {
      try {
        // Files are read within what is left of the turn, and never less than a floor, so an answer at its limit still has its files.
        // A stopped turn still hands over the files it made: only the deadline cuts this short.
        const collecting = AbortSignal.timeout(Math.ceil(Math.min(2 ** 31 - 1, Math.max(collectFloorMs, this.#budget.remainingMs()))));
        ({ files, omitted: filesOmitted } = await this.#bounded(this.#files.collect(this.#session, this.#services.settings.reply, collecting), collecting));
      } catch (failure) {
        if (!(failure instanceof ThreadbookError)) throw failure;
        this.#logger.warn({ err: failure, details: failure.details }, "could not read the turn's files");
        error ??= `The files this turn made could not be read: ${userMessage(failure)}`;
      }
    }
    if (files.length > 0) this.#progress.report({ type: "files-ready", files: files.map((file) => ({ name: file.name, bytes: file.bytes })) });
    const attachmentsNotPlaced = this.#attachmentsPlaced ? [] : this.#turn.attachments.map((attachment) => attachment.name);
    // A stored proposal stays stored whatever ended the turn, so every reply says so.
    const proposalLines = [...this.#variablesRestored.map(variablesLine), ...this.#proposedSkills.map(proposalLine)].join("\n");
    await this.#recordAnswer(joinParagraphs(text, proposalLines), error);
    return {
      text: joinParagraphs(text, proposalLines),
      cells: this.#cells,
      files,
      limit,
      error,
      filesOmitted,
      attachmentsNotPlaced,
      stoppedBy,
      turnId: this.#turnId ?? null,
      proposedSkills: [...this.#proposedSkills],
    };
  }

  /** The answer in the conversation's notebook; a store that fails is logged, and the reply stands. */
  async #recordAnswer(text: string, error: string | null): Promise<void> {
    if (this.#turnId === undefined) return;
    try {
      await this.#services.store.notebook.recordAnswer(this.#turnId, notebookAnswer(text, error));
    } catch (failure) {
      if (!(failure instanceof ThreadbookError)) throw failure;
      this.#logger.warn({ err: failure }, "could not record the answer in the notebook");
    }
  }

  #failureText(): string {
    return joinParagraphs(this.#lastText, `The turn failed ${this.#progressSoFar()}.`);
  }

  /** "before any code ran", "while cell 1 ran", "after 2 cells ran". */
  #progressSoFar(): string {
    const ran = this.#cells.length;
    if (this.#cellStopped !== null) return `while cell ${this.#cellStopped} ran`;
    if (this.#cellsStarted > ran) return `while cell ${this.#cellsStarted} ran`;
    return ran === 0 ? "before any code ran" : `after ${ran} cell${ran === 1 ? "" : "s"} ran`;
  }

  /** Ends a turn a person stopped: what was done so far, and who stopped it. */
  async #stopped(by: string): Promise<Reply> {
    const note = `Stopped by ${by} ${this.#progressSoFar()}.`;
    this.#logger.info({ by, cells: this.#cells.length }, "turn stopped");
    if (this.#turnId !== undefined) {
      try {
        this.#transcript.closeOpenCalls(`Not run: the turn was stopped by ${by}.`);
        if (this.#transcript.items.length > 0) this.#transcript.push({ type: "assistant", text: `(${note})` });
        await this.#saveTranscript();
        await this.#services.store.finishTurn(this.#turnId, { status: "failed", limit: null, error: note });
      } catch (error) {
        this.#logger.error({ err: error }, "could not record the stopped turn");
      }
    }
    const reply = await this.#reply(joinParagraphs(this.#lastText, note), null, null, by);
    this.#progress.report({ type: "turn-finished", reply });
    return reply;
  }

  /** Saves what the turn did and that it failed; a store that fails too is only logged. */
  async #recordFailure(message: string): Promise<void> {
    if (this.#turnId === undefined) return;
    try {
      this.#transcript.closeOpenCalls(`The cell could not run: ${message}`);
      if (this.#transcript.items.length > 0) this.#transcript.push({ type: "assistant", text: `(This turn failed: ${message})` });
      await this.#saveTranscript();
      await this.#services.store.finishTurn(this.#turnId, { status: "failed", limit: null, error: message });
    } catch (error) {
      this.#logger.error({ err: error }, "could not record the failed turn");
    }
  }

  /**
   * Waits for the sandbox within the turn: a stop ends the wait at once (and
   * is thrown), and so does the turn's deadline, as a plain retryable error.
   * With `signal`, that signal alone ends it.
   * What was waited on goes on in the background, under its own deadline.
   */
  async #bounded<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
    work.catch(() => undefined);
    const remaining = this.#budget.remainingMs();
    const deadline = signal ?? AbortSignal.timeout(Number.isFinite(remaining) ? Math.ceil(Math.min(2 ** 31 - 1, Math.max(minimumCellMs, remaining))) : 2 ** 31 - 1);
    const stop = signal ?? AbortSignal.any([this.#services.signal, deadline]);
    let onAbort: (() => void) | undefined;
    const ended = new Promise<never>((_, reject) => {
      onAbort = () => {
        const reason = stopReasonOf(this.#services.signal);
        reject(reason !== null ? new TurnStoppedSignal(reason) : new ThreadbookError("sandbox_failed", "The Python session did not answer in time. Try again.", { retryable: true }));
      };
      if (stop.aborted) onAbort();
      else stop.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([work, ended]);
    } finally {
      if (onAbort) stop.removeEventListener("abort", onAbort);
    }
  }

  #throwIfStopped(): void {
    const reason = stopReasonOf(this.#services.signal);
    if (reason !== null) throw new TurnStoppedSignal(reason);
  }

  /**
   * Records the turn as failed the moment the process is told to shut down, so it
   * is not left "running" should the process exit before the turn has
   * unwound (a cell can take its whole limit). The unwinding records it again,
   * with the transcript, when it gets there in time.
   */
  #recordInterruption(): void {
    if (this.#turnId === undefined || stopReasonOf(this.#services.signal)?.kind !== "shutdown") return;
    this.#services.store
      .finishTurn(this.#turnId, { status: "failed", limit: null, error: shutdownMessage })
      .catch((error: unknown) => this.#logger.error({ err: error }, "could not record the interrupted turn"));
  }

  async #saveTranscript(): Promise<void> {
    if (this.#turnId !== undefined) await this.#transcript.save(this.#services.store, this.#turn.conversationKey, this.#turnId);
  }
}

/** Why a cell's session was replaced: it would not stop at its time limit, or at a stop; or it died. */
function restartReason(result: { timedOut: boolean; stopped: boolean }): RestartReason {
  if (result.timedOut) return "timeout";
  return result.stopped ? "stopped" : "died";
}

function joinParagraphs(...parts: string[]): string {
  return parts.filter((part) => part.trim() !== "").join("\n\n");
}
