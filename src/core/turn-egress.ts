/**
 * What a turn's session may reach through its door out: the allow-list of
 * the user's workspace when it has its own (THREADBOOK_EGRESS_ALLOW_<PLATFORM>_<WORKSPACE>,
 * in place of the global one), else the global THREADBOOK_EGRESS_ALLOW, else
 * nothing; the limits; and every request, allowed or refused, recorded in the
 * store as the turn's.
 */
import type { Config } from "../config.ts";
import type { EgressGrant } from "../egress/egress-grant.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { Turn } from "./turn.ts";

export function turnEgress(settings: Config["egress"], turn: Turn, turnId: string | null, store: Store, logger: Logger): EgressGrant {
  const { user } = turn;
  const own = user.workspace === null ? undefined : settings.workspaces[`${user.platform}:${user.workspace.toUpperCase()}`];
  return {
    policy: own ?? settings.allow ?? { entries: [] },
    limits: { turnBytes: settings.turnBytes, requestsPerMinute: settings.requestsPerMinute, connectionMs: settings.connectionMs },
    record(request) {
      store.egress.recordRequest({ ...request, conversationKey: turn.conversationKey, turnId, user }).catch((error: unknown) => {
        logger.error({ err: error }, "could not record an egress request");
      });
    },
  };
}
