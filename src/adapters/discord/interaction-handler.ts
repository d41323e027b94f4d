/**
 * Interactions: /ask, /reset, /stop, /help, /export, the "Ask threadbook" message
 * command, the Stop button and a skill's Approve / Reject buttons
 * (skill-review-controls.ts). Each is answered within Discord's 3 seconds
 * (a deferral, or a reply at once) before any work; refusals are ephemeral.
 */
import { DiscordAPIError, MessageFlags, type ButtonInteraction, type ChatInputCommandInteraction, type Interaction, type MessageContextMenuCommandInteraction, type RepliableInteraction } from "discord.js";
import { chatMessage } from "../chat-safe.ts";
import { isAllowed, refusalMessage } from "./access.ts";
import { answerTurn } from "./answer-turn.ts";
import { askerOf, turnUser } from "./asker.ts";
import { commandNames, fileOptionNames, helpText } from "./commands.ts";
import { conversationKey } from "./conversation.ts";
import type { DiscordContext } from "./discord-context.ts";
import { incomingFiles, type IncomingAttachment } from "./download-attachments.ts";
import { exportNotebook } from "./export-notebook.ts";
import { defaultUploadLimitBytes } from "./message-limits.ts";
import { placeFor } from "./place.ts";
import { skillButtonPrefix } from "./skill-button-id.ts";
import { handleSkillButton } from "./skill-review-controls.ts";
import { stopButtonId } from "./status-message.ts";

const noThreadHere = "threadbook answers in text channels, their threads and DMs; it cannot open a thread here.";
const notAThread = "Use this in a thread threadbook answers in, or in a DM with it.";
const questionShownChars = 1_800;
/** Discord's error code for a second acknowledgement of an interaction. */
const alreadyAcknowledged = 40060;

export async function handleInteraction(context: DiscordContext, interaction: Interaction): Promise<void> {
  try {
    if (interaction.isChatInputCommand()) await handleCommand(context, interaction);
    else if (interaction.isMessageContextMenuCommand()) await handleAskAboutMessage(context, interaction);
    else if (interaction.isButton() && interaction.customId === stopButtonId) await handleStopButton(context, interaction);
    else if (interaction.isButton() && interaction.customId.startsWith(skillButtonPrefix)) await handleSkillButton(context, interaction);
    else if (interaction.isButton()) await interaction.reply({ content: "threadbook does not know this button.", flags: MessageFlags.Ephemeral });
  } catch (error) {
    if (error instanceof DiscordAPIError && error.code === alreadyAcknowledged) {
      // Delivered again (e.g. after a restart): it was answered before, and its turn is the core's to run once.
      context.logger.info({ interaction: interaction.id }, "interaction delivered again; it was answered before");
      return;
    }
    context.logger.error({ err: error, interaction: interaction.id }, "interaction failed");
    if (interaction.isRepliable()) await sayError(interaction, chatMessage(error));
  }
}

async function handleCommand(context: DiscordContext, interaction: ChatInputCommandInteraction): Promise<void> {
  if (interaction.commandName === commandNames.help) {
    await interaction.reply({ content: helpText, flags: MessageFlags.Ephemeral });
    return;
  }
  if (!(await admitted(context, interaction))) return;
  switch (interaction.commandName) {
    case commandNames.ask: {
      const question = interaction.options.getString("question", true).trim();
      const files = fileOptionNames.map((name) => interaction.options.getAttachment(name)).filter((file) => file !== null);
      await ask(context, interaction, question, files.map((file) => ({ name: file.name, url: file.url, size: file.size })));
      return;
    }
    case commandNames.reset:
      await reset(context, interaction);
      return;
    case commandNames.stop:
      await stop(context, interaction);
      return;
    case commandNames.export: {
      const key = threadKey(interaction);
      if (key === null) await interaction.reply({ content: notAThread, flags: MessageFlags.Ephemeral });
      else await exportNotebook(context, interaction, key);
      return;
    }
    default:
      await interaction.reply({ content: "threadbook does not know this command.", flags: MessageFlags.Ephemeral });
  }
}

async function handleAskAboutMessage(context: DiscordContext, interaction: MessageContextMenuCommandInteraction): Promise<void> {
  if (!(await admitted(context, interaction))) return;
  const target = interaction.targetMessage;
  const files = [...target.attachments.values()].map((file) => ({ name: file.name, url: file.url, size: file.size }));
  const text = target.content.trim();
  const question = text !== "" ? text : files.length > 0 ? "Look at the attached file and tell me what is in it." : "";
  if (question === "") {
    await interaction.reply({ content: "That message has no text or files to ask about.", flags: MessageFlags.Ephemeral });
    return;
  }
  await ask(context, interaction, question, files);
}

/** Defers at once, opens the thread (in a channel), then runs the turn there. */
async function ask(context: DiscordContext, interaction: ChatInputCommandInteraction | MessageContextMenuCommandInteraction, question: string, files: IncomingAttachment[]): Promise<void> {
  await interaction.deferReply();
  const channel = interaction.channel ?? (await context.client.channels.fetch(interaction.channelId).catch(() => null));
  const place = await placeFor(channel, question);
  if (place === null) {
    await interaction.editReply(noThreadHere);
    return;
  }
  const shown = question.length > questionShownChars ? `${question.slice(0, questionShownChars)}…` : question;
  const quoted = shown.split("\n").map((line) => `> ${line}`).join("\n");
  await interaction.editReply({ content: place.opened ? `${quoted}\nAnswering in <#${place.channel.id}>.` : quoted, allowedMentions: { parse: [] } });
  await answerTurn(context, place.channel, {
    conversationKey: conversationKey(place.guildId, place.channel.id),
    eventKey: `discord:interaction:${interaction.id}`,
    user: turnUser(interaction.user, interaction.guildId, interaction.member),
    direct: interaction.guildId === null,
    text: question,
    attachments: [],
      files: incomingFiles(files),
  }, { uploadLimitBytes: interaction.attachmentSizeLimit ?? defaultUploadLimitBytes });
}

async function reset(context: DiscordContext, interaction: ChatInputCommandInteraction): Promise<void> {
  const key = threadKey(interaction);
  if (key === null) {
    await interaction.reply({ content: notAThread, flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.deferReply();
  const by = turnUser(interaction.user, interaction.guildId, interaction.member).displayName ?? interaction.user.username;
  await context.agent.reset(key, by);
  await interaction.editReply({ content: `${by} reset this thread's session: the next question starts fresh.`, allowedMentions: { parse: [] } });
}

async function stop(context: DiscordContext, interaction: ChatInputCommandInteraction): Promise<void> {
  const key = threadKey(interaction);
  const by = turnUser(interaction.user, interaction.guildId, interaction.member).displayName ?? interaction.user.username;
  if (key === null || !context.agent.stop(key, by)) {
    await interaction.reply({ content: "Nothing is running here.", flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.reply({ content: `${by} stopped the running question.`, allowedMentions: { parse: [] } });
}

async function handleStopButton(context: DiscordContext, interaction: ButtonInteraction): Promise<void> {
  if (!(await admitted(context, interaction))) return;
  const key = threadKey(interaction);
  const by = turnUser(interaction.user, interaction.guildId, interaction.member).displayName ?? interaction.user.username;
  if (key !== null && context.agent.stop(key, by)) await interaction.deferUpdate();
  else await interaction.reply({ content: "Nothing is running here.", flags: MessageFlags.Ephemeral });
}

/** The conversation of the thread or DM the interaction came from; null in a plain channel. */
function threadKey(interaction: RepliableInteraction): string | null {
  const channel = interaction.channel;
  const inThread = channel?.isThread() ?? false;
  const inDm = interaction.guildId === null;
  if (!inThread && !inDm) return null;
  return conversationKey(interaction.guildId, interaction.channelId ?? "");
}

async function admitted(context: DiscordContext, interaction: RepliableInteraction): Promise<boolean> {
  const asker = askerOf(interaction.guildId, interaction.channelId ?? "", interaction.channel, interaction.member);
  if (isAllowed(asker, context.settings)) return true;
  context.logger.info({ user: interaction.user.id, guild: interaction.guildId, channel: interaction.channelId }, "interaction refused: not on the allow-lists");
  await interaction.reply({ content: refusalMessage, flags: MessageFlags.Ephemeral });
  return false;
}

async function sayError(interaction: RepliableInteraction, message: string): Promise<void> {
  const content = `threadbook could not do that: ${message}`;
  try {
    if (interaction.deferred || interaction.replied) await interaction.followUp({ content, flags: MessageFlags.Ephemeral });
    else await interaction.reply({ content, flags: MessageFlags.Ephemeral });
  } catch {
    // The interaction's token may have expired; the log has the failure.
  }
}
