/**
 * Wiring: config → logger → model client → store → sandbox (one Docker
 * engine, or a placement over several) → agent, and
 * closing them again. Each part is started only after the cheaper checks
 * before it passed, so a missing API key costs no Docker start.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "./config.ts";
import { Agent } from "./core/agent.ts";
import { defaultLeaseTimes } from "./core/conversation-lease.ts";
import { startIdleSessionSweep } from "./core/idle-sessions.ts";
import type { TurnObserver } from "./core/turn-observer.ts";
import { FileDownloads, incomingDirectoryName } from "./core/file-downloads.ts";
import { createModelClient } from "./core/model/create-model-client.ts";
import { RetentionSweeper } from "./core/retention.ts";
import { timedOut, within } from "./deadline.ts";
import { skillCompileCheck } from "./docker-sandbox-options.ts";
import { createLogger, type Logger } from "./log.ts";
import type { SessionCensus } from "./sandbox/session-census.ts";
import type { Sandbox } from "./sandbox/sandbox.ts";
import { SkillLibrary } from "./skills/skill-library.ts";
import { SkillReview } from "./skills/skill-review.ts";
import { startSandbox } from "./start-sandbox.ts";
import { openStore } from "./store/open-store.ts";
import type { Store } from "./store/store.ts";

export const logFileName = "threadbook.log";

/** Without a grace (a terminal), how long close waits for interrupted turns to unwind (a session to remove, a failure to record) before it closes the store. */
const turnGraceMs = 5_000;
/** The end of a bot's grace kept for stopped turns to post their replies and the adapters to disconnect: a fifth, at most 5 s. */
const postingShareOfGrace = 0.2;
const postingReserveMaxMs = 5_000;

export interface ServiceOptions {
  /** "file": <dataDir>/threadbook.log, so a terminal shows progress only; "stderr" for a bot. */
  log: "file" | "stderr";
  /** Warm sessions to keep; a one-shot command wants none. */
  poolSize: number;
  /** Only the process that runs the bot should mark turns a crash left running as failed. */
  recoverInterruptedTurns: boolean;
  /**
   * On close, how long the whole shutdown may take: running turns go on to
   * finish (no new ones are taken meanwhile) until the last part of it, then
   * are stopped, their replies posted and the adapters disconnected by its
   * end. 0 for a terminal, where Ctrl-C means now; some seconds for a bot,
   * whose users are waiting for answers.
   */
  finishGraceMs: number;
  /** Told about slow preparation, such as building the sandbox image. */
  onStatus: (message: string) => void;
  /** Told how turns, cells and model requests end (the bot's metrics); nothing when absent. */
  observer?: TurnObserver;
}

export interface Services {
  config: Config;
  logger: Logger;
  store: Store;
  sandbox: Sandbox;
  /** The live sessions as an operator sees them, and whether Docker answers. */
  census: SessionCensus;
  agent: Agent;
  /** The skill library: proposals from turns, decisions, what a session holds. */
  skills: SkillLibrary;
  /** Decisions on proposed skills from a chat platform, by the approvers only. */
  skillReview: SkillReview;
  /**
   * Adds work to do on close, such as stopping a chat platform's adapter
   * or ending a conversation nobody can continue; all of it runs at once,
   * each given the shutdown's deadline (epoch ms) to be done by. It runs on a
   * signal too, when a command's own `finally` never would.
   */
  onClose(work: (deadline: number) => Promise<void>): void;
  /**
   * Takes no new turns, lets running ones finish until the last part of
   * `finishGraceMs`, then stops those still running (each is recorded as
   * failed), runs the onClose work side by side by the deadline, waits for
   * the turns to unwind (by the deadline; a few seconds without a grace),
   * stops the sandbox's background work (sessions keep running for the next
   * start) and closes the store. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

export async function startServices(config: Config, options: ServiceOptions): Promise<Services> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const logger = createLogger({ level: config.logLevel, destination: options.log === "file" ? join(config.dataDir, logFileName) : 2 });
  const model = createModelClient(config.model, logger);
  const store = await openStore(config, { recoverInterruptedTurns: options.recoverInterruptedTurns });
  let sandbox: Sandbox;
  let census: SessionCensus;
  try {
    ({ sandbox, census } = await startSandbox(config, { logger, poolSize: options.poolSize, buildMissingImage: true, onStatus: options.onStatus }));
  } catch (error) {
    await store.close();
    throw error;
  }
  const skills = new SkillLibrary(store.skills, skillCompileCheck(config));
  const skillReview = new SkillReview(skills, config.skills.approvers);
  const downloads = new FileDownloads({ directory: join(config.dataDir, incomingDirectoryName), maxBytes: config.sandbox.fileMb * 1024 * 1024, maxAtOnce: config.capacity.maxDownloads });
  // Replicas sharing a database hand each conversation's session on between turns, and reap sessions by the store's clock.
  const replicated = config.databaseUrl !== undefined;
  const agent = new Agent({ model, sandbox, store, settings: config, logger, skills, downloads, handOffSessions: replicated, ...(options.observer === undefined ? {} : { observer: options.observer }) });
  // Only the process that runs the bot prunes and sweeps, as only it recovers interrupted turns.
  const retention = options.recoverInterruptedTurns ? new RetentionSweeper(store, config.retention, logger) : undefined;
  retention?.start();
  const idleSweep = replicated && options.recoverInterruptedTurns
    ? startIdleSessionSweep({ store, sandbox, logger, idleTtlMs: config.sandbox.idleTtlMs, leaseTtlMs: defaultLeaseTimes.ttlMs, intervalMs: Math.max(1_000, Math.min(config.sandbox.idleTtlMs / 2, 30_000)) })
    : undefined;
  logger.info({ model: model.description, instance: config.sandbox.instance, dataDir: config.dataDir }, "threadbook started");
  const closers: ((deadline: number) => Promise<void>)[] = [];
  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    store,
    sandbox,
    census,
    agent,
    skills,
    skillReview,
    onClose(work) {
      closers.push(work);
    },
    close() {
      closing ??= (async () => {
        const graceMs = options.finishGraceMs;
        const deadline = Date.now() + graceMs;
        agent.stopTaking();
        if (graceMs > 0) {
          const finishingMs = graceMs - Math.min(postingReserveMaxMs, graceMs * postingShareOfGrace);
          const finished = await within(agent.idle().catch(() => undefined), finishingMs);
          if (finished === timedOut) logger.warn({ graceMs }, "turns still running at shutdown are stopped");
        }
        agent.interrupt();
        await Promise.all(closers.map((work) => work(deadline).catch((error: unknown) => logger.error({ err: error }, "closing failed"))));
        const unwindMs = graceMs > 0 ? Math.max(0, deadline - Date.now()) : turnGraceMs;
        const unwound = await within(agent.idle().catch(() => undefined), unwindMs);
        if (unwound === timedOut) logger.warn({ graceMs: unwindMs }, "turns were still unwinding at close");
        idleSweep?.stop();
        await retention?.stop();
        await sandbox.close();
        await store.close();
      })();
      return closing;
    },
  };
}
