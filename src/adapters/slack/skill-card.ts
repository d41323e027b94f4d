/**
 * The message that asks for a skill's approval in its thread: name, version,
 * scope, description and the code of its scripts (within Slack's block
 * limits), who may approve, and Approve / Reject buttons. Once decided, the
 * same message shows the outcome in place of the buttons.
 */
import type { SkillRecord, StoredSkillFile } from "../../store/skill-store.ts";
import { sectionChars, splitText } from "./slack-limits.ts";
import { escapeFences, escapeText } from "./slack-text.ts";

export const approveSkillActionId = "threadbook_skill_approve";
export const rejectSkillActionId = "threadbook_skill_reject";

/** Characters of code a card shows, over all its scripts, before it is cut with a note. */
const cardCodeChars = 9_000;
/** Code sections a card holds at most, however short its scripts. */
const cardCodeSections = 12;
/** A code section: the script's path, the fence, and a piece of its code. */
const codePieceChars = sectionChars - 200;
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
    ].join("\n")),
    ...codeSections(record.name, files),
  ];
  if (record.status === "proposed") blocks.push(...approvalBlocks(record, approvers));
  else blocks.push(outcomeBlock(record));
  const state = record.status === "proposed" ? "waits for approval" : record.status;
  return { text: `Proposed skill ${record.name} (version ${record.version}) ${state}`, blocks };
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
  const where = record.scope === "global" ? "every workspace" : "this workspace";
  const text = record.status === "approved" ? `✅ Approved${by} · new conversations in ${where} can use it` : `❌ Rejected${by}`;
  return section(text);
}

/** The code of `scripts/*.py`, escaped and fenced, split across sections, cut with a note past the card's budget. */
function codeSections(name: string, files: readonly StoredSkillFile[]): object[] {
  const scripts = files.filter((file) => /^scripts\/[^/]+\.py$/.test(file.path));
  const sections: object[] = [];
  let budget = cardCodeChars;
  const left: string[] = [];
  for (const [index, script] of scripts.entries()) {
    const code = script.data.toString("utf8");
    const pieces = codePieces(escapeFences(escapeText(code)));
    let shown = 0;
    for (const piece of pieces) {
      if (piece.length > budget || sections.length >= cardCodeSections) break;
      budget -= piece.length;
      sections.push(section(`${shown === 0 ? "" : "(continued) "}\`${escapeText(script.path)}\`\n\`\`\`\n${piece}\n\`\`\``));
      shown += 1;
    }
    if (shown < pieces.length) {
      const lines = pieces.slice(shown).join("").split("\n").length;
      left.push(`${lines} more line${lines === 1 ? "" : "s"} of \`${escapeText(script.path)}\``);
      const rest = scripts.length - index - 1;
      if (rest > 0) left.push(`${rest} more script${rest === 1 ? "" : "s"}`);
      break;
    }
  }
  if (left.length > 0) sections.push(section(`The code is cut here: ${left.join(" and ")} not shown. Full skill: \`threadbook skills show ${escapeText(name)}\``));
  return sections;
}

/** Pieces of escaped code, each within a section; an escape (`&amp;`) is never split. */
function codePieces(escaped: string): string[] {
  const pieces = splitText(escaped, codePieceChars);
  for (let index = 0; index < pieces.length - 1; index += 1) {
    const partial = /&[a-z]{0,3}$/.exec(pieces[index] ?? "");
    if (partial === null) continue;
    pieces[index] = (pieces[index] ?? "").slice(0, partial.index);
    pieces[index + 1] = partial[0] + (pieces[index + 1] ?? "");
  }
  return pieces.filter((piece) => piece !== "");
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
