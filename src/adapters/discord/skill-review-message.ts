/**
 * A skill version as a Components V2 message for review: its name, version,
 * scope and description, the packages it installs in sessions with a door out, every file it holds (SKILL.md, scripts,
 * references, assets: what an approval lets into the scope's
 * conversations) in code blocks, then its state. While proposed: who may approve (the Discord approvers,
 * mentioned) and Approve / Reject buttons; with no approver on Discord, the
 * CLI command instead. Once decided: who approved or rejected it. The whole
 * stays within Discord's 4,000 characters of text: each file gets a fair
 * share, cut at a line, with a note naming `threadbook skills show`.
 */
import { ButtonStyle, ComponentType, MessageFlags, type APIComponentInContainer, type APIContainerComponent } from "discord.js";
import type { SkillRecord, StoredSkillFile } from "../../skills/skill.ts";
import { formatBytes } from "../../core/format-size.ts";
import { requirementsOf } from "../../skills/front-matter.ts";
import { packagesList } from "../skill-packages.ts";
import { leftOut, skillFileExcerpts, type FileExcerpt } from "../skill-file-excerpts.ts";
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
/** Room kept for the note that says files were cut. */
const cutNoteRoom = 220;
/** A file's path line, its fences and its "N more lines not shown" line, besides its path. */
const perFileOverhead = 60;
/** A file shown gets at least this much room for its text; files past that are counted instead. */
const minimumFileChars = 40;

/** `discordApprovers`: the Discord user ids among THREADBOOK_SKILL_APPROVERS. */
export function skillReviewMessage(view: SkillView, discordApprovers: readonly string[]): SkillReviewMessage {
  const { record } = view;
  const header = headerOf(record, requirementsOf(view.files));
  const { text: state, mentioned } = stateOf(record, discordApprovers);
  const filesBudget = messageLimits.textChars - header.length - state.length - 4;
  const code = filesOf(record, view.files, filesBudget);
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

/** `requirements`: the packages SKILL.md declares, which sessions with a door out install from the package index when they import the skill. */
function headerOf(record: SkillRecord, requirements: readonly string[]): string {
  const title = record.status === "proposed" ? "Skill proposed" : "Skill";
  const quoted = record.description.trim().split("\n").map((line) => `> ${line}`).join("\n");
  const shown = quoted.length > quotedDescriptionChars ? `${quoted.slice(0, quotedDescriptionChars)}…` : quoted;
  const packages = requirements.length === 0 ? "" : `\n**Installs packages** (from the package index, in sessions with a door out): ${packagesList(requirements, (requirement) => `\`${requirement}\``)}`;
  return `**${title}: \`${record.name}\`** · version ${record.version} · scope \`${record.scope}\`\n${shown}${packages}`;
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
  const person = /^discord:user:(\d{1,20})$/.exec(scope);
  if (person !== null) return `in <@${person[1]}>'s direct messages with threadbook`;
  if (scope.startsWith("discord:")) return "in this server";
  return `in \`${scope}\``;
}

/**
 * Every file of the skill under its path, the head of its text in a code
 * block (a fair share of `budget`) or its size when it is not text; a note
 * naming the full skill when anything is cut. Within `budget` however its
 * text grows when fenced.
 */
function filesOf(record: SkillRecord, files: readonly StoredSkillFile[], budget: number): string {
  const room = budget - cutNoteRoom;
  const overheads = [...files].map((file) => file.path.length + perFileOverhead);
  let maxFiles = 0;
  for (let used = 0; maxFiles < overheads.length && used + overheads[maxFiles]! + minimumFileChars <= room; maxFiles += 1) used += overheads[maxFiles]!;
  let textBudget = room - overheads.slice(0, maxFiles).reduce((sum, overhead) => sum + overhead, 0);
  for (;;) {
    const excerpts = skillFileExcerpts(files, textBudget, maxFiles);
    const blocks = excerpts.excerpts.map(fileBlock);
    if (excerpts.cut) {
      const more = excerpts.filesLeft > 0 ? `${excerpts.filesLeft} more file${excerpts.filesLeft === 1 ? "" : "s"} not shown. ` : "";
      blocks.push(`${more}Some files are cut here. Full skill: \`threadbook skills show ${record.name} --scope ${record.scope}\``);
    }
    const text = blocks.join("\n\n");
    if (text.length <= budget || textBudget <= 0) return text;
    textBudget -= text.length - budget;
  }
}

function fileBlock(excerpt: FileExcerpt): string {
  const path = `\`${excerpt.path.replace(/`/g, "'")}\``;
  if (excerpt.whole === null) return `${path} · ${formatBytes(excerpt.bytes)}, not text, not shown`;
  const left = leftOut(excerpt);
  return `${path}\n${fenced(excerpt.shown, languageOf(excerpt.path))}${left === "" ? "" : `\n-# ${left} not shown`}`;
}

function languageOf(path: string): string {
  if (path.endsWith(".py")) return "python";
  if (path.endsWith(".md")) return "markdown";
  return "";
}
