/**
 * Wiring: config → logger → model client → store → sandbox → agent, and
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
import { createModelClient } from "./core/model/create-model-client.ts";
import { timedOut, within } from "./deadline.ts";
import { dockerSandboxOptions, skillCompileCheck } from "./docker-sandbox-options.ts";
import { createLogger, type Logger } from "./log.ts";
import { DockerSandbox } from "./sandbox/docker/docker-sandbox.ts";
import { DockerSessionCensus } from "./sandbox/docker/docker-session-census.ts";
import type { SessionCensus } from "./sandbox/session-census.ts";
import type { Sandbox } from "./sandbox/sandbox.ts";
import { SkillLibrary } from "./skills/skill-library.ts";
import { SkillReview } from "./skills/skill-review.ts";
import { openStore } from "./store/open-store.ts";
import type { Store } from "./store/store.ts";

export const logFileName = "threadbook.log";

/** How long close waits for interrupted turns to unwind (a session to remove, a failure to record) before it closes the store. */
const turnGraceMs = 5_000;

export interface ServiceOptions {
  /** "file": <dataDir>/threadbook.log, so a terminal shows progress only; "stderr" for a bot. */
  log: "file" | "stderr";
  /** Warm sessions to keep; a one-shot command wants none. */
  poolSize: number;
  /** Only the process that runs the bot should mark turns a crash left running as failed. */
  recoverInterruptedTurns: boolean;
  /**
   * On close, how long running turns may go on to finish (no new ones are
   * taken meanwhile) before they are stopped: 0 for a terminal, where Ctrl-C
   * means now; some seconds for a bot, whose users are waiting for answers.
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
   * Adds work to do first on close, such as stopping a chat platform's adapter
   * or ending a conversation nobody can continue. It runs on a signal too, when
   * a command's own `finally` never would.
   */
  onClose(work: () => Promise<void>): void;
  /**
   * Takes no new turns, lets running ones finish for `finishGraceMs`, then
   * stops those still running (each is recorded as failed), runs the onClose
   * work, waits a few seconds for the turns to unwind, stops the sandbox's
   * background work (sessions keep running for the next start) and closes the
   * store. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

export async function startServices(config: Config, options: ServiceOptions): Promise<Services> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const logger = createLogger({ level: config.logLevel, destination: options.log === "file" ? join(config.dataDir, logFileName) : 2 });
  const model = createModelClient(config.model, logger);
  const store = await openStore(config, { recoverInterruptedTurns: options.recoverInterruptedTurns });
  let sandbox: DockerSandbox;
  try {
    sandbox = await DockerSandbox.start(dockerSandboxOptions(config, { logger, poolSize: options.poolSize, buildMissingImage: true, onStatus: options.onStatus }));
  } catch (error) {
    await store.close();
    throw error;
  }
  const skills = new SkillLibrary(store.skills, skillCompileCheck(config));
  const skillReview = new SkillReview(skills, config.skills.approvers);
  const census = new DockerSessionCensus(sandbox, config.sandbox.dockerHost);
  // Replicas sharing a database hand each conversation's session on between turns, and reap sessions by the store's clock.
  const replicated = config.databaseUrl !== undefined;
  const agent = new Agent({ model, sandbox, store, settings: config, logger, skills, handOffSessions: replicated, ...(options.observer === undefined ? {} : { observer: options.observer }) });
  const idleSweep = replicated && options.recoverInterruptedTurns
    ? startIdleSessionSweep({ store, sandbox, logger, idleTtlMs: config.sandbox.idleTtlMs, leaseTtlMs: defaultLeaseTimes.ttlMs, intervalMs: Math.max(1_000, Math.min(config.sandbox.idleTtlMs / 2, 30_000)) })
    : undefined;
  logger.info({ model: model.description, instance: config.sandbox.instance, dataDir: config.dataDir }, "threadbook started");
  const closers: (() => Promise<void>)[] = [];
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
        agent.stopTaking();
        if (options.finishGraceMs > 0) {
          const finished = await within(agent.idle().catch(() => undefined), options.finishGraceMs);
          if (finished === timedOut) logger.warn({ graceMs: options.finishGraceMs }, "turns still running at shutdown are stopped");
        }
        agent.interrupt();
        for (const work of closers) await work().catch((error: unknown) => logger.error({ err: error }, "closing failed"));
        const unwound = await within(agent.idle().catch(() => undefined), turnGraceMs);
        if (unwound === timedOut) logger.warn({ graceMs: turnGraceMs }, "turns were still unwinding at close");
        idleSweep?.stop();
        await sandbox.close();
        await store.close();
      })();
      return closing;
    },
  };
}
