/**
 * The application commands: /ask (a question and up to three files), /reset,
 * /stop, /help, /export, and the message command "Ask threadbook". Registered with
 * `threadbook discord register`: in one guild at once (for development), or
 * globally (Discord then takes up to an hour to show them everywhere).
 */
import { ApplicationCommandOptionType, ApplicationCommandType, InteractionContextType, REST, Routes, type RESTPutAPIApplicationCommandsJSONBody } from "discord.js";
import type { DiscordSettings } from "../../config.ts";

export const commandNames = { ask: "ask", reset: "reset", stop: "stop", help: "help", export: "export", askAboutMessage: "Ask threadbook" } as const;

/** The /ask options that carry files, in order. */
export const fileOptionNames = ["file", "file2", "file3"] as const;

const contexts = [InteractionContextType.Guild, InteractionContextType.BotDM];

export const commandDefinitions: RESTPutAPIApplicationCommandsJSONBody = [
  {
    name: commandNames.ask,
    type: ApplicationCommandType.ChatInput,
    description: "Ask a question about data; threadbook answers in a thread by running Python",
    contexts,
    options: [
      { type: ApplicationCommandOptionType.String, name: "question", description: "What you want to know", required: true, max_length: 4000 },
      ...fileOptionNames.map((name) => ({ type: ApplicationCommandOptionType.Attachment as const, name, description: "A file to look at (CSV, Excel, JSON, …)", required: false })),
    ],
  },
  { name: commandNames.reset, type: ApplicationCommandType.ChatInput, description: "Forget this thread's session: variables, files and history", contexts },
  { name: commandNames.stop, type: ApplicationCommandType.ChatInput, description: "Stop the question running in this thread", contexts },
  { name: commandNames.help, type: ApplicationCommandType.ChatInput, description: "How to use threadbook", contexts },
  { name: commandNames.export, type: ApplicationCommandType.ChatInput, description: "This thread as a Jupyter notebook (.ipynb): questions, code, outputs, answers", contexts },
  { name: commandNames.askAboutMessage, type: ApplicationCommandType.Message, contexts },
];

export interface Registered {
  count: number;
  /** The guild they were registered in; undefined: globally. */
  guildId: string | undefined;
}

/** Replaces the application's commands (in the guild, or globally) with threadbook's. */
export async function registerCommands(settings: DiscordSettings, guildId: string | undefined): Promise<Registered> {
  const rest = new REST({ api: settings.apiUrl }).setToken(settings.token);
  const route = guildId === undefined
    ? Routes.applicationCommands(settings.applicationId)
    : Routes.applicationGuildCommands(settings.applicationId, guildId);
  const registered = (await rest.put(route, { body: commandDefinitions })) as unknown[];
  return { count: registered.length, guildId };
}

export const helpText = [
  "**threadbook** answers questions about data by writing and running Python in a notebook kept for the thread.",
  "• `/ask question:<text>` with up to three files: the answer comes in a new thread (or here, in a thread or DM).",
  "• In a threadbook thread, just write: follow-ups reuse the same variables and files.",
  "• Mention the bot in a channel to start a thread; in a DM, just write.",
  "• Right-click a message → Apps → **Ask threadbook** to ask about it and its files.",
  "• `/stop` stops the running question; `/reset` forgets this thread's session; `/export` attaches the thread as a Jupyter notebook.",
].join("\n");
