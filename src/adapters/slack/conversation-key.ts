/**
 * Keys for the core. A conversation is a thread: team, channel and the
 * thread's root ts. A platform event is one post: team, channel and the
 * post's own ts, the same whether Slack delivers it as `app_mention`, as
 * `message`, or again as a retry.
 */
import { isSlackId, isSlackTs } from "./incoming-post.ts";

/** Where a conversation is in Slack: what its key is made of. */
export interface ThreadPlace {
  team: string;
  channel: string;
  rootTs: string;
}

export function conversationKey(team: string, channel: string, rootTs: string): string {
  return `slack:${team}:${channel}:${rootTs}`;
}

/**
 * The thread a conversation key names, or null for anything `conversationKey`
 * could not have made from a valid post (another platform's key, a part
 * missing or extra, an id or ts Slack would not send).
 */
export function parseConversationKey(key: string): ThreadPlace | null {
  const parts = key.split(":");
  if (parts.length !== 4 || parts[0] !== "slack") return null;
  const [, team, channel, rootTs] = parts as [string, string, string, string];
  if (!isSlackId(team) || !isSlackId(channel) || !isSlackTs(rootTs)) return null;
  return { team, channel, rootTs };
}

export function eventKey(team: string, channel: string, ts: string): string {
  return `slack-event:${team}:${channel}:${ts}`;
}
