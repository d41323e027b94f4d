/**
 * Text from a model or a person, made safe to show in Slack's mrkdwn: it
 * cannot mention anyone, make a link, or close the code block it is shown in.
 */

/** Slack's escapes for &, < and >: no `<!channel>`, `<@U1>` or `<url|link>` survives. */
export function escapeText(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Escaped as `escapeText`, and every @ broken up with a zero-width space, so no `@here` or `@channel` either. */
export function inertText(text: string): string {
  return escapeText(text).replaceAll("@", "@\u200b");
}

/** Breaks up ``` inside text so it cannot close the code block it is shown in. */
export function escapeFences(text: string): string {
  return text.replaceAll("```", "`\u200b``");
}
