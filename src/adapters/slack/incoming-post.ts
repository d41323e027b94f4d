/**
 * A Slack message event, validated into what the adapter acts on, or null
 * for what it ignores: its own and other bots' messages, edits, deletions and
 * every other subtype except a file share. Everything here is untrusted input.
 */

/** A file attached to a post, as the event describes it. */
export interface PostedFile {
  name: string;
  /** As Slack states it; checked again while downloading. */
  size: number;
  url: string;
}

export interface IncomingPost {
  team: string;
  /** The poster's own workspace (`user_team`), which differs from `team` for a Slack Connect guest; undefined when not given. */
  userTeam: string | undefined;
  channel: string;
  user: string;
  ts: string;
  /** The thread's root: the post's own ts when it starts one. */
  rootTs: string;
  /** The text with mentions of the bot taken out, trimmed. */
  text: string;
  /** Whether the post mentions the bot (an app_mention, or a message naming it). */
  mentionsBot: boolean;
  /** A direct message (a DM or the AI-app pane): every post is for the bot. */
  direct: boolean;
  /** A reply in an existing thread. */
  inThread: boolean;
  files: PostedFile[];
}

const idPattern = /^[A-Z0-9]{2,32}$/;
const tsPattern = /^\d{1,12}\.\d{1,9}$/;
/** Longer questions are cut to this (the model sees no more anyway), with a note. */
const maxTextChars = 20_000;
const maxFiles = 10;

export function toIncomingPost(event: unknown, team: string | undefined, botUserId: string | undefined): IncomingPost | null {
  if (typeof event !== "object" || event === null) return null;
  const fields = event as Record<string, unknown>;
  if (fields.type !== "message" && fields.type !== "app_mention") return null;
  if (fields.subtype !== undefined && fields.subtype !== "file_share") return null;
  if (fields.bot_id !== undefined || fields.bot_profile !== undefined) return null;
  const { channel, user, ts } = fields;
  const threadTs = fields.thread_ts;
  if (!isSlackId(team) || !isSlackId(channel) || !isSlackId(user) || !isSlackTs(ts)) return null;
  if (threadTs !== undefined && !isSlackTs(threadTs)) return null;
  if (botUserId !== undefined && user === botUserId) return null;
  const rawText = typeof fields.text === "string" ? fields.text : "";
  const mention = botUserId === undefined ? null : new RegExp(`<@${botUserId}(\\|[^>]*)?>`, "g");
  const mentionsBot = fields.type === "app_mention" || (mention !== null && mention.test(rawText));
  let text = (mention === null ? rawText : rawText.replace(mention, " ")).replace(/\s+$/, "").replace(/^\s+/, "");
  if (text.length > maxTextChars) text = `${text.slice(0, maxTextChars)}\n(The message was longer; only its first ${maxTextChars} characters were read.)`;
  const userTeam = isSlackId(fields.user_team) ? fields.user_team : undefined;
  return {
    team,
    userTeam,
    channel,
    user,
    ts,
    rootTs: threadTs ?? ts,
    text,
    mentionsBot,
    direct: fields.channel_type === "im",
    inThread: threadTs !== undefined && threadTs !== ts,
    files: postedFiles(fields.files),
  };
}

function postedFiles(files: unknown): PostedFile[] {
  if (!Array.isArray(files)) return [];
  const result: PostedFile[] = [];
  for (const file of files.slice(0, maxFiles)) {
    if (typeof file !== "object" || file === null) continue;
    const { name, size, url_private_download: download, url_private: view } = file as Record<string, unknown>;
    const url = typeof download === "string" ? download : view;
    if (typeof name !== "string" || typeof url !== "string" || typeof size !== "number") continue;
    result.push({ name: name.slice(0, 255), size, url });
  }
  return result;
}

/** A team, channel or user id as Slack gives them (`T0123ABCD`). */
export function isSlackId(value: unknown): value is string {
  return typeof value === "string" && idPattern.test(value);
}

/** A message ts as Slack gives it (`1700000000.000100`). */
export function isSlackTs(value: unknown): value is string {
  return typeof value === "string" && tsPattern.test(value);
}
