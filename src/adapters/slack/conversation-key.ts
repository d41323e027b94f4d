/**
 * Keys for the core. A conversation is a thread: team, channel and the
 * thread's root ts. A platform event is one post: team, channel and the
 * post's own ts, the same whether Slack delivers it as `app_mention`, as
 * `message`, or again as a retry.
 */
export function conversationKey(team: string, channel: string, rootTs: string): string {
  return `slack:${team}:${channel}:${rootTs}`;
}

export function eventKey(team: string, channel: string, ts: string): string {
  return `slack-event:${team}:${channel}:${ts}`;
}
