/**
 * A skill version as a Components V2 message for review: its name, version,
 * scope and description, the code of its scripts/*.py in ```python blocks,
 * then its state. While proposed: who may approve (the Discord approvers,
 * mentioned) and Approve / Reject buttons; with no approver on Discord, the
 * CLI command instead. Once decided: who approved or rejected it. The whole
 * stays within Discord's 4,000 characters of text: code that does not fit is
 * cut at a line with a note naming `threadbook skills show`.
 */
import { ButtonStyle, ComponentType, MessageFlags, type APIComponentInContainer, type APIContainerComponent } from "discord.js";
import type { SkillRecord, StoredSkillFile } from "../../store/skill-store.ts";
import { fenced } from "./code-block.ts";
import { accentColours, messageLimits } from "./message-limits.ts";
import { skillButtonId } from "./skill-button-id.ts";

export interface SkillView {
  record: SkillRecord;
  files: StoredSkillFile[];
}

export interface SkillReviewMessage {
  components: [APIContainerComponent];
  flags: MessageFlags.IsComponentsV2;
  /** Pings the approvers the message names, and no one else (never @everyone or a role written in a description). */
  allowedMentions: { parse: []; users: string[] };
}

/** Approvers mentioned by name at most; the rest are counted. */
const shownApprovers = 10;
/** The description, quoted, shown up to this many characters (a description of many short lines grows when quoted). */
const quotedDescriptionChars = 1_300;
/** Room kept for the note that says the code was cut. */
const cutNoteRoom = 220;
const scriptPath = /^scripts\/[^/]+\.py$/;

/** `discordApprovers`: the Discord user ids among THREADBOOK_SKILL_APPROVERS. */
export function skillReviewMessage(view: SkillView, discordApprovers: readonly string[]): SkillReviewMessage {
  const { record } = view;
  const header = headerOf(record);
  const { text: state, mentioned } = stateOf(record, discordApprovers);
  const codeBudget = messageLimits.textChars - header.length - state.length - 4;
  const code = codeOf(record.name, view.files, codeBudget);
  const children: APIComponentInContainer[] = [{ type: ComponentType.TextDisplay, content: header }];
  if (code !== "") children.push({ type: ComponentType.TextDisplay, content: code });
  children.push({ type: ComponentType.TextDisplay, content: state });
  if (record.status === "proposed" && discordApprovers.length > 0) {
    children.push({
      type: ComponentType.ActionRow,
      components: [
        { type: ComponentType.Button, style: ButtonStyle.Success, label: "Approve", custom_id: skillButtonId("approved", record.id) },
        { type: ComponentType.Button, style: ButtonStyle.Danger, label: "Reject", custom_id: skillButtonId("rejected", record.id) },
      ],
    });
  }
  const accent = record.status === "approved" ? accentColours.done : record.status === "rejected" ? accentColours.failed : accentColours.working;
  return {
    components: [{ type: ComponentType.Container, accent_color: accent, components: children }],
    flags: MessageFlags.IsComponentsV2,
    allowedMentions: { parse: [], users: mentioned },
  };
}

/** "<@456>, <@789> and 3 more", or "" for none. */
export function mentionList(userIds: readonly string[]): string {
  const shown = userIds.slice(0, shownApprovers).map((id) => `<@${id}>`);
  const more = userIds.length - shown.length;
  return more > 0 ? `${shown.join(", ")} and ${more} more` : shown.join(", ");
}

function headerOf(record: SkillRecord): string {
  const title = record.status === "proposed" ? "Skill proposed" : "Skill";
  const quoted = record.description.trim().split("\n").map((line) => `> ${line}`).join("\n");
  const shown = quoted.length > quotedDescriptionChars ? `${quoted.slice(0, quotedDescriptionChars)}…` : quoted;
  return `**${title}: \`${record.name}\`** · version ${record.version} · scope \`${record.scope}\`\n${shown}`;
}

function stateOf(record: SkillRecord, discordApprovers: readonly string[]): { text: string; mentioned: string[] } {
  if (record.status === "approved") return { text: `Approved by ${whoDecided(record)} · new conversations ${whereUsable(record.scope)} can use it.`, mentioned: [] };
  if (record.status === "rejected") return { text: `Rejected by ${whoDecided(record)}.`, mentioned: [] };
  if (discordApprovers.length === 0) {
    return { text: `No one can approve skills from Discord here: approve it with \`threadbook skills approve ${record.name}\` (or set THREADBOOK_SKILL_APPROVERS).`, mentioned: [] };
  }
  return { text: `Waiting for approval by ${mentionList(discordApprovers)}.`, mentioned: discordApprovers.slice(0, shownApprovers) };
}

/** A Discord user as a mention (not pinged on an edit), anyone else by their key. */
function whoDecided(record: SkillRecord): string {
  const by = record.decidedBy ?? "someone";
  const discordUser = /^discord:(\d{1,20})$/.exec(by);
  return discordUser === null ? `\`${by.replace(/`/g, "'")}\`` : `<@${discordUser[1]}>`;
}

function whereUsable(scope: string): string {
  if (scope === "global") return "everywhere";
  if (scope.startsWith("discord:")) return "in this server";
  return `in \`${scope}\``;
}

/** Each script under its path in a ```python block, in order, within `budget` characters; cut at a line with a note when it does not fit. */
function codeOf(name: string, files: readonly StoredSkillFile[], budget: number): string {
  const scripts = files.filter((file) => scriptPath.test(file.path));
  const blocks: string[] = [];
  let used = 0;
  for (const [index, file] of scripts.entries()) {
    const code = file.data.toString("utf8").trimEnd();
    const block = `\`${file.path}\`\n${fenced(code, "python")}`;
    if (used + block.length + 2 <= budget - (index === scripts.length - 1 ? 0 : cutNoteRoom)) {
      blocks.push(block);
      used += block.length + 2;
      continue;
    }
    const room = budget - cutNoteRoom - used - `\`${file.path}\`\n`.length - fenced("", "python").length - 2;
    const shown = cutAtLine(code, room);
    if (shown !== "") blocks.push(`\`${file.path}\`\n${fenced(shown, "python")}`);
    const linesLeft = countLines(code) - countLines(shown);
    const filesLeft = scripts.length - index - 1;
    const left = [linesLeft > 0 ? `${linesLeft} more line${linesLeft === 1 ? "" : "s"} of this file` : "", filesLeft > 0 ? `${filesLeft} more file${filesLeft === 1 ? "" : "s"}` : ""].filter((part) => part !== "");
    const what = left.length > 0 ? ` (${left.join(" and ")} not shown)` : "";
    blocks.push(`The code is too long to show here${what}. Full skill: \`threadbook skills show ${name}\``);
    break;
  }
  return blocks.join("\n\n");
}

/** The longest head of whole lines within `room` characters once fenced; the first line cut when even it does not fit. */
function cutAtLine(code: string, room: number): string {
  if (room <= 0) return "";
  const fits = (text: string) => fenced(text, "").length - fenced("", "").length <= room;
  let end = code.lastIndexOf("\n", room);
  while (end > 0 && !fits(code.slice(0, end))) end = code.lastIndexOf("\n", end - 1);
  if (end > 0) return code.slice(0, end);
  const firstLine = code.split("\n", 1)[0] ?? "";
  let length = Math.min(firstLine.length, room);
  while (length > 0 && !fits(firstLine.slice(0, length))) length -= 1;
  return firstLine.slice(0, length);
}

function countLines(text: string): number {
  return text === "" ? 0 : text.split("\n").length;
}
