/**
 * The message that asks for a skill's approval in its thread: name, version,
 * scope, description, the packages it installs in sessions with a door out,
 * and every file it holds (SKILL.md, scripts,
 * references, assets: what the approver lets into every conversation of
 * the scope, within Slack's block limits), who may approve, and Approve / Reject buttons. Once decided, the
 * same message shows the outcome in place of the buttons.
 */
import type { SkillRecord, StoredSkillFile } from "../../skills/skill.ts";
import { formatBytes } from "../../core/format-size.ts";
import { requirementsOf } from "../../skills/front-matter.ts";
import { packagesList } from "../skill-packages.ts";
import { leftOut, shortened, skillFileExcerpts, type FileExcerpt } from "../skill-file-excerpts.ts";
import { sectionChars } from "./slack-limits.ts";
import { escapeFences, escapeText } from "./slack-text.ts";

export const approveSkillActionId = "threadbook_skill_approve";
export const rejectSkillActionId = "threadbook_skill_reject";

/** Characters of file text a card shows, over all the skill's files, before they are cut with a note. */
const cardFileChars = 12_000;
/** Files a card shows at most (a section each), within Slack's 50 blocks a message. */
const cardFileSections = 40;
/** A file's section: its path, the fence, the head of its text and what was left out. */
const filePieceChars = sectionChars - 300;
const descriptionChars = 1_500;

export interface SkillCardInput {
  record: SkillRecord;
  files: readonly StoredSkillFile[];
  /** Everyone who may approve, as "<platform>:<id>"; only the Slack ones can click. */
  approvers: readonly string[];
}

export interface SlackMessageContent {
  text: string;
  blocks: object[];
}

/** The card for a version in its current state: proposed (buttons, or how to approve without them), approved or rejected. */
export function skillCard({ record, files, approvers }: SkillCardInput): SlackMessageContent {
  const name = escapeText(record.name);
  const blocks: object[] = [
    { type: "header", text: { type: "plain_text", text: `Proposed skill: ${record.name}`.slice(0, 150) } },
    section([
      `*${name}* · version ${record.version} · scope \`${escapeText(record.scope)}\` · proposed by ${who(record.proposedBy)}`,
      escapeText(clip(record.description, descriptionChars)),
      `Files: ${files.map((file) => `\`${escapeText(file.path)}\``).join(", ") || "none"}`,
      ...packagesLine(files),
    ].join("\n")),
    ...fileSections(record, files),
  ];
  if (record.status === "proposed") blocks.push(...approvalBlocks(record, approvers));
  else blocks.push(outcomeBlock(record));
  const state = record.status === "proposed" ? "waits for approval" : record.status;
  return { text: `Proposed skill ${record.name} (version ${record.version}) ${state}`, blocks };
}

/** The packages SKILL.md declares, which sessions with a door out install from the package index when they import the skill. */
function packagesLine(files: readonly StoredSkillFile[]): string[] {
  const requirements = requirementsOf(files);
  if (requirements.length === 0) return [];
  return [`*Installs packages* (from the package index, in sessions with a door out): ${packagesList(requirements, (requirement) => `\`${escapeText(requirement)}\``)}`];
}

/** Who may approve, with the buttons; or, with no Slack approver, how to approve from the command line. */
function approvalBlocks(record: SkillRecord, approvers: readonly string[]): object[] {
  const mentions = slackMentions(approvers);
  const command = `threadbook skills approve ${record.name} --scope ${record.scope}`;
  if (mentions.length === 0) {
    return [section(`No one can approve skills from Slack. Approve it with \`${escapeText(command)}\` (or add \`slack:<your user id>\` to THREADBOOK_SKILL_APPROVERS).`)];
  }
  const id = String(record.id);
  return [
    section(`${mentions.join(", ")} can approve it. Until then no conversation can use it.`),
    {
      type: "actions",
      block_id: `skill_review_${id}`,
      elements: [
        { type: "button", action_id: approveSkillActionId, style: "primary", text: { type: "plain_text", text: "Approve" }, value: id },
        {
          type: "button", action_id: rejectSkillActionId, style: "danger", text: { type: "plain_text", text: "Reject" }, value: id,
          confirm: {
            title: { type: "plain_text", text: "Reject this skill?" },
            text: { type: "plain_text", text: `Version ${record.version} of ${record.name} will not be used. The model can propose it again.`.slice(0, 300) },
            confirm: { type: "plain_text", text: "Reject" },
            deny: { type: "plain_text", text: "Keep it waiting" },
            style: "danger",
          },
        },
      ],
    },
  ];
}

function outcomeBlock(record: SkillRecord): object {
  const by = record.decidedBy === null ? "" : ` by ${who(record.decidedBy)}`;
  const person = /:user:([A-Za-z0-9]+)$/.exec(record.scope);
  const where = record.scope === "global" ? "every workspace" : person !== null ? `${who(`slack:${person[1]}`)}'s direct messages with threadbook` : "this workspace";
  const text = record.status === "approved" ? `✅ Approved${by} · new conversations in ${where} can use it` : `❌ Rejected${by}`;
  return section(text);
}

/**
 * Every file of the skill, each in its own section: its path, then the head
 * of its text escaped and fenced (a fair share of the card's budget, never
 * past a section), or its size when it is not text; a note naming the full
 * skill when anything is cut.
 */
function fileSections(record: SkillRecord, files: readonly StoredSkillFile[]): object[] {
  const { excerpts, filesLeft, cut } = skillFileExcerpts(files, cardFileChars, cardFileSections, filePieceChars);
  const sections = excerpts.map((excerpt) => section(fileSection(excerpt)));
  if (cut) {
    const more = filesLeft > 0 ? `${filesLeft} more file${filesLeft === 1 ? "" : "s"} not shown. ` : "";
    sections.push(section(`${more}Some files are cut here. Full skill: \`${escapeText(showCommand(record))}\``));
  }
  return sections;
}

/** One file's section text, within a section however its text escapes. */
function fileSection(excerpt: FileExcerpt): string {
  const path = `\`${escapeText(excerpt.path)}\``;
  if (excerpt.whole === null) return `${path} · ${formatBytes(excerpt.bytes)}, not text, not shown`;
  let shown = excerpt;
  let code = escapeFences(escapeText(shown.shown));
  while (code.length > filePieceChars) {
    shown = shortened(shown, shown.shown.length - (code.length - filePieceChars) - 1);
    code = escapeFences(escapeText(shown.shown));
  }
  const left = leftOut(shown);
  return `${path}\n\`\`\`\n${code === "" ? " " : code}\n\`\`\`${left === "" ? "" : `\n_${left} not shown_`}`;
}

/** The command that shows the whole skill. */
export function showCommand(record: SkillRecord): string {
  return `threadbook skills show ${record.name} --scope ${record.scope}`;
}

function section(text: string): object {
  return { type: "section", text: { type: "mrkdwn", text: text.slice(0, sectionChars) } };
}

/** The Slack approvers as mentions: `slack:U123` → `<@U123>`. */
export function slackMentions(approvers: readonly string[]): string[] {
  return approvers.filter((approver) => /^slack:[A-Za-z0-9]+$/.test(approver)).map((approver) => `<@${approver.slice("slack:".length)}>`);
}

/** A user key as Slack shows it: a mention for a Slack user, the plain key for anyone else (such as `cli:ada`). */
export function who(userKey: string): string {
  return /^slack:[A-Za-z0-9]+$/.test(userKey) ? `<@${userKey.slice("slack:".length)}>` : `\`${escapeText(userKey)}\``;
}


function clip(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
