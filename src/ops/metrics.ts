/**
 * The bot's Prometheus metrics, kept with prom-client: the agent's observer
 * (counters and histograms of turns, cells, model requests and restarts),
 * gauges read when scraped (the turn queue, live and warm sessions), and
 * Node's process defaults. Labels say what happened, never who: no user,
 * conversation or workspace id is ever a label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CellOutcome } from "../store/store.ts";
import type { ModelRequestEnd, RestartReason, StepTokens, TurnEnd, TurnObserver } from "../core/turn-observer.ts";

/** What the gauges read at each scrape. */
export interface MetricsSources {
  /** Turns waiting for a running slot. */
  queueLength(): number;
  /** Session containers live (this process's and adopted ones) and warm in the pool. */
  sessions(): { live: number; warm: number };
}

/** Seconds: a quick cell to a long turn. */
const cellBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const turnBuckets = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

export class Metrics implements TurnObserver {
  readonly registry = new Registry();
  readonly #turns: Counter<"outcome">;
  readonly #cells: Counter<"outcome">;
  readonly #turnSeconds: Histogram<"outcome">;
  readonly #cellSeconds: Histogram<"outcome">;
  readonly #modelRequests: Counter<"outcome">;
  readonly #modelTokens: Counter<"type">;
  readonly #restarts: Counter<"reason">;
  #sources: MetricsSources | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#turns = new Counter({ name: "threadbook_turns_total", help: "Turns ended, by outcome: answered, limit, failed, stopped, refused.", labelNames: ["outcome"], registers });
    this.#cells = new Counter({ name: "threadbook_cells_total", help: "Cells run, by outcome: ok, error, timeout, lost.", labelNames: ["outcome"], registers });
    this.#turnSeconds = new Histogram({ name: "threadbook_turn_duration_seconds", help: "From a turn's arrival (queue wait included) to its reply; refused turns are not timed.", labelNames: ["outcome"], buckets: turnBuckets, registers });
    this.#cellSeconds = new Histogram({ name: "threadbook_cell_duration_seconds", help: "How long each cell ran.", labelNames: ["outcome"], buckets: cellBuckets, registers });
    this.#modelRequests = new Counter({ name: "threadbook_model_requests_total", help: "Model steps requested, by outcome: ok, error, abandoned (a stop or the turn's time limit).", labelNames: ["outcome"], registers });
    this.#modelTokens = new Counter({ name: "threadbook_model_tokens_total", help: "Model tokens by type: input (all of it, cached included), cached (the part read from the service's cache), output.", labelNames: ["type"], registers });
    this.#restarts = new Counter({ name: "threadbook_sandbox_restarts_total", help: "Session containers replaced under a cell, by reason: timeout (would not stop at its limit), stopped (would not stop at a stop), died.", labelNames: ["reason"], registers });
    // Zero from the start, so a rate over them is defined before the first event.
    for (const outcome of ["answered", "limit", "failed", "stopped", "refused"] satisfies TurnEnd[]) this.#turns.inc({ outcome }, 0);
    for (const outcome of ["ok", "error", "timeout", "lost"] satisfies CellOutcome[]) this.#cells.inc({ outcome }, 0);
    for (const outcome of ["ok", "error", "abandoned"] satisfies ModelRequestEnd[]) this.#modelRequests.inc({ outcome }, 0);
    for (const type of ["input", "cached", "output"]) this.#modelTokens.inc({ type }, 0);
    for (const reason of ["timeout", "stopped", "died"] satisfies RestartReason[]) this.#restarts.inc({ reason }, 0);
    const metrics = this;
    new Gauge({
      name: "threadbook_queue_length", help: "Turns waiting for a running slot.", registers,
      collect() { this.set(metrics.#sources?.queueLength() ?? 0); },
    });
    new Gauge({
      name: "threadbook_sessions", help: "Session containers: live (holding a conversation's state) and warm (started, waiting in the pool).", labelNames: ["state"], registers,
      collect() {
        const counts = metrics.#sources?.sessions() ?? { live: 0, warm: 0 };
        this.set({ state: "live" }, counts.live);
        this.set({ state: "warm" }, counts.warm);
      },
    });
  }

  /** Where the gauges read from, once the agent and the sandbox exist. */
  watch(sources: MetricsSources): void {
    this.#sources = sources;
  }

  turnEnded(end: TurnEnd, seconds: number | null): void {
    this.#turns.inc({ outcome: end });
    if (seconds !== null) this.#turnSeconds.observe({ outcome: end }, seconds);
  }

  cellEnded(outcome: CellOutcome, seconds: number): void {
    this.#cells.inc({ outcome });
    this.#cellSeconds.observe({ outcome }, seconds);
  }

  modelRequestEnded(end: ModelRequestEnd, tokens: StepTokens | null): void {
    this.#modelRequests.inc({ outcome: end });
    if (tokens === null) return;
    this.#modelTokens.inc({ type: "input" }, tokens.inputTokens);
    this.#modelTokens.inc({ type: "cached" }, tokens.cachedInputTokens ?? 0);
    this.#modelTokens.inc({ type: "output" }, tokens.outputTokens);
  }

  sessionRestarted(reason: RestartReason): void {
    this.#restarts.inc({ reason });
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
