/**
 * The command line, parsed before anything starts, so a typo costs no
 * Docker start: `ask`, `chat`, `start` (the default), help or the version.
 */
import { parseArgs } from "node:util";
import { askHelp, auditHelp, chatHelp, discordHelp, exportHelp, mainHelp, sessionsHelp, skillsHelp, usageHelp } from "./help-text.ts";
import { parseAudit, parseSessions, type AuditOptions, type SessionsOptions } from "./ops-command-line.ts";
import { parseSkills, type SkillsOptions } from "./skills-command-line.ts";
import { parseUsage, type UsageOptions } from "./usage-command-line.ts";
import { UsageError } from "./usage-error.ts";

export interface AskOptions {
  question: string;
  files: string[];
  conversation: string | undefined;
  json: boolean;
  out: string | undefined;
}

export interface ChatOptions {
  jsonl: boolean;
  conversation: string | undefined;
  out: string | undefined;
}

export interface ExportOptions {
  /** A conversation key, or the name given to ask or chat with --conversation. */
  conversation: string;
  /** The file to write, "-" for stdout; undefined: <title>.ipynb in the current directory. */
  out: string | undefined;
}

export type CommandLine =
  | { command: "help"; text: string }
  | { command: "version" }
  | { command: "ask"; options: AskOptions }
  | { command: "chat"; options: ChatOptions }
  | { command: "start" }
  | { command: "skills"; options: SkillsOptions }
  | { command: "export"; options: ExportOptions }
  | { command: "usage"; options: UsageOptions }
  | { command: "audit"; options: AuditOptions }
  | { command: "sessions"; options: SessionsOptions }
  /** Registers the Discord commands: in one guild (at once) or globally. */
  | { command: "discord-register"; guildId: string | undefined };

const maxConversationKeyLength = 200;

export function parseCommandLine(argv: string[]): CommandLine {
  const [first, ...rest] = argv;
  switch (first) {
    case undefined:
    case "start":
      if (rest.some((argument) => argument === "--help" || argument === "-h")) return { command: "help", text: mainHelp };
      if (rest.length > 0) throw new UsageError(`'start' takes no arguments (got ${JSON.stringify(rest[0])}).`);
      return { command: "start" };
    case "help":
    case "--help":
    case "-h":
      return { command: "help", text: helpFor(rest[0]) };
    case "--version":
    case "-V":
      return { command: "version" };
    case "ask":
      return parseAsk(rest);
    case "chat":
      return parseChat(rest);
    case "discord":
      return parseDiscord(rest);
    case "skills":
      return parseSkills(rest, (argv, options) => parse("skills", argv, options));
    case "export":
      return parseExport(rest);
    case "usage":
      return parseUsage(rest, (argv, options) => parse("usage", argv, options));
    case "audit":
      return parseAudit(rest, (argv, options) => parse("audit", argv, options));
    case "sessions":
      return parseSessions(rest, (argv, options) => parse("sessions", argv, options));
    default:
      throw new UsageError(`Unknown command ${JSON.stringify(first)}. The commands are ask, chat, start, discord, skills, export, usage, audit and sessions.`);
  }
}

function helpFor(command: string | undefined): string {
  if (command === "ask") return askHelp;
  if (command === "chat") return chatHelp;
  if (command === "discord") return discordHelp;
  if (command === "skills") return skillsHelp;
  if (command === "export") return exportHelp;
  if (command === "usage") return usageHelp;
  if (command === "audit") return auditHelp;
  if (command === "sessions") return sessionsHelp;
  return mainHelp;
}

function parseAsk(argv: string[]): CommandLine {
  const { values, positionals } = parse("ask", argv, {
    file: { type: "string", short: "f", multiple: true },
    conversation: { type: "string", short: "c" },
    json: { type: "boolean" },
    out: { type: "string", short: "o" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return { command: "help", text: askHelp };
  if (positionals.length === 0) throw new UsageError("Missing the question: threadbook ask \"<question>\".", "ask");
  if (positionals.length > 1) throw new UsageError(`Put the question in quotes: got ${positionals.length} separate words.`, "ask");
  const question = positionals[0]?.trim() ?? "";
  if (question === "") throw new UsageError("The question is empty.", "ask");
  return {
    command: "ask",
    options: {
      question,
      files: (values.file as string[] | undefined) ?? [],
      conversation: conversationKey(values.conversation as string | undefined, "ask"),
      json: values.json === true,
      out: nonEmpty(values.out as string | undefined, "--out", "ask"),
    },
  };
}

function parseChat(argv: string[]): CommandLine {
  const { values, positionals } = parse("chat", argv, {
    jsonl: { type: "boolean" },
    conversation: { type: "string", short: "c" },
    out: { type: "string", short: "o" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return { command: "help", text: chatHelp };
  if (positionals.length > 0) throw new UsageError(`'chat' takes no question on the command line (got ${JSON.stringify(positionals[0])}); type it once the chat starts.`, "chat");
  return {
    command: "chat",
    options: {
      jsonl: values.jsonl === true,
      conversation: conversationKey(values.conversation as string | undefined, "chat"),
      out: nonEmpty(values.out as string | undefined, "--out", "chat"),
    },
  };
}

function parseDiscord(argv: string[]): CommandLine {
  const { values, positionals } = parse("discord", argv, {
    guild: { type: "string", short: "g" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return { command: "help", text: discordHelp };
  if (positionals[0] !== "register" || positionals.length > 1) {
    throw new UsageError(`'discord' takes one subcommand, register (got ${positionals.length === 0 ? "none" : JSON.stringify(positionals.join(" "))}).`, "discord");
  }
  const guildId = nonEmpty(values.guild as string | undefined, "--guild", "discord");
  if (guildId !== undefined && !/^\d{5,20}$/.test(guildId)) throw new UsageError(`--guild takes a server's id, digits only (got ${JSON.stringify(guildId)}).`, "discord");
  return { command: "discord-register", guildId };
}

function parseExport(argv: string[]): CommandLine {
  const { values, positionals } = parse("export", argv, {
    out: { type: "string", short: "o" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return { command: "help", text: exportHelp };
  if (positionals.length === 0) throw new UsageError("Missing the conversation: threadbook export CONVERSATION.", "export");
  if (positionals.length > 1) throw new UsageError(`'export' takes one conversation (got ${positionals.length}).`, "export");
  const conversation = positionals[0]?.trim() ?? "";
  if (conversation === "") throw new UsageError("The conversation is empty.", "export");
  if (conversation.length > maxConversationKeyLength + "cli:".length) throw new UsageError(`A conversation is at most ${maxConversationKeyLength} characters.`, "export");
  return { command: "export", options: { conversation, out: nonEmpty(values.out as string | undefined, "--out", "export") } };
}

export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

function parse(command: string, argv: string[], options: OptionSpec) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs says e.g. "Unknown option '--jsn'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--jsn\"".
    const message = error instanceof Error ? error.message.split(". ")[0] ?? error.message : String(error);
    throw new UsageError(`${message.replace(/\.$/, "")}.`, command);
  }
}

function conversationKey(value: string | undefined, command: string): string | undefined {
  const key = nonEmpty(value, "--conversation", command);
  if (key !== undefined && key.length > maxConversationKeyLength) {
    throw new UsageError(`--conversation is at most ${maxConversationKeyLength} characters.`, command);
  }
  return key;
}

function nonEmpty(value: string | undefined, option: string, command: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === "") throw new UsageError(`${option} needs a value.`, command);
  return value.trim();
}
