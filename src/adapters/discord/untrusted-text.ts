/**
 * Text the model wrote (or that the user's data put in its way), shown in a
 * message as written: on one line, bounded, its markdown escaped and its
 * mentions broken so they neither render nor ping (the client also sends
 * `allowed_mentions: {parse: []}`).
 */
import { escapeMarkdown } from "discord.js";

/** Plain words: control characters gone, whitespace one space, cut to `maxChars` characters (with "…"), markdown escaped, mentions broken. */
export function plainLine(text: string, maxChars: number): string {
  return breakMentions(escapeMarkdown(cut(oneLine(text), maxChars), { maskedLink: true, heading: true, bulletedList: true, numberedList: true }));
}

/** A name in `inline code`: one line, cut to `maxChars` characters, a backtick shown as ' so it cannot close the code early. */
export function inlineCode(text: string, maxChars: number): string {
  return `\`${cut(oneLine(text), maxChars).replace(/`/g, "'")}\``;
}

function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}]/gu, " ").replace(/\s+/g, " ").trim();
}

/** Cut by characters (code points), not UTF-16 units, so no surrogate pair is split. */
function cut(text: string, maxChars: number): string {
  const characters = Array.from(text);
  return characters.length <= maxChars ? text : `${characters.slice(0, maxChars - 1).join("").trimEnd()}…`;
}

/** A zero-width space after "@" and "<#" stops <@user>, <@&role>, @everyone, @here and <#channel> from becoming mentions or links. */
function breakMentions(text: string): string {
  return text.replace(/@/g, "@\u200b").replace(/<#/g, "<\u200b#");
}
