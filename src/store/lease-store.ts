/**
 * Conversation leases: which replica of the bot runs a conversation's turns
 * now. A lease row per conversation names its holder and when it expires;
 * the holder renews it while a turn runs and gives it up after, and another
 * replica takes it over once it has expired (its holder died or hung). Each
 * opened store is one holder. This is what keeps a conversation's turns one
 * at a time across replicas sharing one database, without session-level
 * locks (which break behind PgBouncer in transaction mode).
 */
export interface LeaseStore {
  /** This store's holder id, unique per opened store: "<host>:<pid>:<random>". */
  readonly holder: string;

  /**
   * Takes the conversation's lease for `ttlMs` when nobody holds it, its
   * lease has expired, or this holder has it already (then it is extended).
   * False while another holder's lease is live.
   */
  acquire(conversationKey: string, ttlMs: number): Promise<boolean>;

  /** Extends this holder's lease by `ttlMs` from now; false when it is no longer this holder's. */
  renew(conversationKey: string, ttlMs: number): Promise<boolean>;

  /** Gives the lease up, if this holder has it. */
  release(conversationKey: string): Promise<void>;
}

/** A fresh holder id. */
export function newLeaseHolder(hostname: string, pid: number, random: string): string {
  return `${hostname}:${pid}:${random}`;
}
