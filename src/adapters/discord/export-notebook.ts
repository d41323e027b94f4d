/**
 * `/export` in a threadbook thread or DM: the conversation as a Jupyter
 * notebook, `<title>.ipynb`, attached to the command's reply. The notebook
 * comes from the core; one over the upload limit Discord gives the
 * interaction is not sent, and the reply says so and points at the CLI.
 */
import type { ChatInputCommandInteraction } from "discord.js";
import { formatBytes } from "../../core/format-size.ts";
import type { DiscordContext } from "./discord-context.ts";
import { defaultUploadLimitBytes } from "./message-limits.ts";

export const noNotebookNote = "This thread has no notebook yet: ask a question first.";

/** `key` is the thread's or DM's conversation. */
export async function exportNotebook(context: DiscordContext, interaction: ChatInputCommandInteraction, key: string): Promise<void> {
  await interaction.deferReply();
  const notebook = await context.agent.exportNotebook(key);
  if (notebook === null) {
    await interaction.editReply({ content: noNotebookNote, allowedMentions: { parse: [] } });
    return;
  }
  const limit = interaction.attachmentSizeLimit ?? defaultUploadLimitBytes;
  if (notebook.data.length > limit) {
    await interaction.editReply({
      content: `The notebook is ${formatBytes(notebook.data.length)}, over the ${formatBytes(limit)} Discord takes here. \`threadbook export ${key}\` writes it on the bot's machine.`,
      allowedMentions: { parse: [] },
    });
    return;
  }
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  await interaction.editReply({
    content: `This thread as a Jupyter notebook: ${count(notebook.questions, "question")}, ${count(notebook.codeCells, "code cell")}.`,
    files: [{ attachment: notebook.data, name: notebook.name }],
    allowedMentions: { parse: [] },
  });
}
