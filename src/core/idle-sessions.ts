/**
 * Sessions handed off between replicas (Agent's `handOffSessions`) are no
 * one replica's to reap by its own clock: the store's record of each
 * conversation's last activity is. A sweep ends the session of each bound
 * conversation idle for longer than the idle time to live, under the
 * conversation's lease, so that no replica's turn is running in it, and
 * unbinds it; its next turn starts a new session, told its variables are
 * gone, with its kept attachments put back.
 */
import type { Logger } from "../log.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import type { Store } from "../store/store.ts";

export interface IdleSessionSweepOptions {
  store: Store;
  sandbox: Sandbox;
  /** A session unused for longer than this is ended. */
  idleTtlMs: number;
  /** How long the sweep holds a conversation's lease while it ends its session. */
  leaseTtlMs: number;
  logger: Logger;
  /** Now, in epoch milliseconds. */
  now?: () => number;
}

/** One pass: returns the conversations whose sessions it ended. A conversation that fails is logged and skipped. */
export async function sweepIdleSessions(options: IdleSessionSweepOptions): Promise<string[]> {
  const { store, sandbox, logger } = options;
  const cutoff = (options.now ?? Date.now)() - options.idleTtlMs;
  const ended: string[] = [];
  for (const conversation of await store.listBoundConversations()) {
    if (conversation.updatedAt >= cutoff) continue;
    const key = conversation.key;
    try {
      // A turn running anywhere holds the lease: its session is in use.
      if (!(await store.leases.acquire(key, options.leaseTtlMs))) continue;
      try {
        const again = await store.getConversation(key);
        if (again === null || again.sessionId === null || again.updatedAt >= cutoff) continue;
        await sandbox.release(key);
        await store.bindSession(key, null);
        ended.push(key);
        logger.info({ conversation: key }, "ended an idle session");
      } finally {
        await store.leases.release(key);
      }
    } catch (error) {
      logger.warn({ err: error, conversation: key }, "could not end an idle session");
    }
  }
  return ended;
}

/** Sweeps every `intervalMs` until stopped; a pass never overlaps the one before. */
export function startIdleSessionSweep(options: IdleSessionSweepOptions & { intervalMs: number }): { stop(): void } {
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    void sweepIdleSessions(options)
      .catch((error: unknown) => options.logger.warn({ err: error }, "the idle session sweep failed"))
      .finally(() => { sweeping = false; });
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
