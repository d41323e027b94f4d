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

/**
 * One line that cannot mention anyone or make a link: control and format
 * characters dropped, whitespace collapsed, escaped as `inertText`; cut to
 * `maxChars` with an ellipsis, never inside an escape.
 */
export function inertLine(text: string, maxChars: number): string {
  const escaped = inertText(text.replace(/\s+/g, " ").replace(/[\p{Cc}\p{Cf}]/gu, "").trim());
  if (escaped.length <= maxChars) return escaped;
  let cut = maxChars - 1;
  const ampersand = escaped.lastIndexOf("&", cut);
  if (ampersand !== -1 && !escaped.slice(ampersand, cut).includes(";") && escaped.indexOf(";", ampersand) >= cut) cut = ampersand;
  // Never split a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(escaped[cut - 1] ?? "")) cut -= 1;
  return `${escaped.slice(0, cut)}…`;
}
