/**
 * What the bot keeps, pruned in the background: event claims once no
 * platform would deliver the event again, kept attachments, transcripts and
 * the audit log's cell runs after their retention settings
 * (THREADBOOK_*_RETENTION_DAYS; 0 keeps them for ever). A sweep runs at
 * start and then every hour; a store that fails one is logged and tried
 * again at the next.
 */
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";

export interface RetentionSettings {
  attachmentsMs: number;
  transcriptsMs: number;
  auditMs: number;
}

/**
 * Slack retries an event three times within minutes, Discord replays events
 * on a resumed session and a restart may redeliver the last ones; a day is
 * well past all of them.
 */
export const eventRetryWindowMs = 24 * 60 * 60 * 1000;

const sweepEveryMs = 60 * 60 * 1000;

export type SweepCounts = { events: number; attachments: number; transcriptItems: number; cellRuns: number };

export class RetentionSweeper {
  readonly #store: Pick<Store, "pruneEvents" | "pruneAttachments" | "pruneTranscripts" | "pruneCellRuns">;
  readonly #settings: RetentionSettings;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<unknown> = Promise.resolve();

  constructor(store: Pick<Store, "pruneEvents" | "pruneAttachments" | "pruneTranscripts" | "pruneCellRuns">, settings: RetentionSettings, logger: Logger) {
    this.#store = store;
    this.#settings = settings;
    this.#logger = logger;
  }

  /** Sweeps now, then every hour, without keeping the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#schedule();
    this.#timer = setInterval(() => this.#schedule(), sweepEveryMs);
    this.#timer.unref();
  }

  /** Stops the timer; resolves once a sweep in progress has ended. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
  }

  /** One sweep: what each kind of record lost. */
  async sweep(): Promise<SweepCounts> {
    const { attachmentsMs, transcriptsMs, auditMs } = this.#settings;
    const counts: SweepCounts = {
      events: await this.#store.pruneEvents(eventRetryWindowMs),
      attachments: attachmentsMs > 0 ? await this.#store.pruneAttachments(attachmentsMs) : 0,
      transcriptItems: transcriptsMs > 0 ? await this.#store.pruneTranscripts(transcriptsMs) : 0,
      cellRuns: auditMs > 0 ? await this.#store.pruneCellRuns(auditMs) : 0,
    };
    if (Object.values(counts).some((count) => count > 0)) this.#logger.info(counts, "old records pruned");
    return counts;
  }

  #schedule(): void {
    this.#sweeping = this.#sweeping.then(() => this.sweep()).catch((error: unknown) => this.#logger.warn({ err: error }, "pruning old records failed; trying again in an hour"));
  }
}
