/**
 * A conversation's turns run one at a time across replicas of the bot that
 * share a store. Before a turn runs, its replica takes the conversation's
 * lease (store.leases), waiting while another replica's turn holds it;
 * while the turn runs the lease is renewed every third of its time to live;
 * after, it is given up. A replica that dies stops renewing: its lease
 * expires and the next turn, on any replica, takes it over. Within one
 * replica the keyed queue already orders a conversation's turns; the lease
 * orders them between replicas.
 */
import { setTimeout as wait } from "node:timers/promises";
import { ThreadbookError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { LeaseStore } from "../store/lease-store.ts";

export interface LeaseTiming {
  /** How long a lease lives without a renewal: how soon a dead replica's conversations go on elsewhere. */
  ttlMs: number;
  /** How often a turn waiting for another replica's lease looks again. */
  pollMs: number;
  /** How long a turn waits for another replica's lease before it is refused. */
  maxWaitMs: number;
}

export const defaultLeaseTimes = { ttlMs: 30_000, pollMs: 250 } as const;

/** A lease this replica holds on a conversation, renewed until released. */
export interface HeldLease {
  /** Aborts when the lease is lost: not renewed in time (the store failed), or taken over. */
  readonly lost: AbortSignal;
  /** Stops renewing and gives the lease up; a store that fails is logged (the lease then expires). */
  release(): Promise<void>;
}

/**
 * Takes the conversation's lease, waiting (and calling `onWaiting` once) while
 * another holder has it. Rejects with the signal's reason when `signal`
 * aborts, with a ThreadbookError when the wait outlasts `maxWaitMs`, and with
 * the store's StoreError when it fails.
 */
export async function takeLease(leases: LeaseStore, conversationKey: string, timing: LeaseTiming, options: { signal: AbortSignal; onWaiting: () => void; logger: Logger }): Promise<HeldLease> {
  const { signal, onWaiting, logger } = options;
  const deadline = performance.now() + timing.maxWaitMs;
  let told = false;
  for (;;) {
    signal.throwIfAborted();
    if (await leases.acquire(conversationKey, timing.ttlMs)) break;
    if (!told) {
      told = true;
      logger.info("another replica runs a turn of this conversation; waiting for its lease");
      onWaiting();
    }
    if (performance.now() > deadline) {
      throw new ThreadbookError("turn_interrupted", "An earlier question in this thread is still being answered. Ask again when it has finished.", { retryable: true });
    }
    await wait(timing.pollMs, undefined, { signal });
  }
  return holdLease(leases, conversationKey, timing, logger);
}

function holdLease(leases: LeaseStore, conversationKey: string, timing: LeaseTiming, logger: Logger): HeldLease {
  const lost = new AbortController();
  let renewedAt = performance.now();
  let renewing: Promise<void> = Promise.resolve();
  const renew = async () => {
    try {
      if (await leases.renew(conversationKey, timing.ttlMs)) {
        renewedAt = performance.now();
        return;
      }
      logger.warn("this replica's lease on the conversation was taken over; stopping its turn");
      lost.abort();
    } catch (error) {
      // A store that fails for a moment is tried again; once the lease may have expired, it is lost.
      if (performance.now() - renewedAt >= timing.ttlMs) {
        logger.warn({ err: error }, "could not renew the conversation's lease in time; stopping its turn");
        lost.abort();
      } else {
        logger.warn({ err: error }, "could not renew the conversation's lease; trying again");
      }
    }
  };
  const timer = setInterval(() => {
    if (!lost.signal.aborted) renewing = renewing.then(renew);
  }, Math.max(1, Math.floor(timing.ttlMs / 3)));
  timer.unref();
  let released: Promise<void> | undefined;
  return {
    lost: lost.signal,
    release() {
      released ??= (async () => {
        clearInterval(timer);
        await renewing;
        await leases.release(conversationKey).catch((error: unknown) => logger.warn({ err: error }, "could not give up the conversation's lease; it will expire"));
      })();
      return released;
    },
  };
}
