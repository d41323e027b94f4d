/**
 * The entry point: parse the command line, load the settings, start the
 * services, run the command, and close cleanly on exit or on SIGINT, SIGTERM
 * or SIGHUP (a closed terminal).
 * Exit codes: 0 answered, 1 failed, 2 bad usage or settings; 129, 130 or
 * 143 when SIGHUP, SIGINT or SIGTERM stopped it (128 + the signal's number),
 * but 0 for a bot that closed cleanly on the signal.
 */
import { userInfo } from "node:os";
import { join } from "node:path";
import { prepareAsk, runAsk, type PreparedAsk } from "./adapters/cli/ask-command.ts";
import { runChatLines } from "./adapters/cli/chat-lines.ts";
import { runChatTerminal } from "./adapters/cli/chat-terminal.ts";
import type { CliContext } from "./adapters/cli/cli-context.ts";
import { parseCommandLine, type CommandLine, type ExportOptions } from "./adapters/cli/command-line.ts";
import { exitCodes, signalExitCodes } from "./adapters/cli/exit-codes.ts";
import { withLogPath } from "./adapters/cli/log-path-note.ts";
import type { SkillsOptions } from "./adapters/cli/skills-command-line.ts";
import type { UsageOptions } from "./adapters/cli/usage-command-line.ts";
import { UsageError } from "./adapters/cli/usage-error.ts";
import { threadbookVersion } from "./adapters/cli/version.ts";
import { createPlatformAdapters, hasConfiguredPlatform } from "./adapters/platform-adapter.ts";
import { loadConfig, settingWarnings, type Config } from "./config.ts";
import type { TurnUser } from "./core/turn.ts";
import { ConfigError, SkillError, ThreadbookError, userMessage } from "./errors.ts";
import type { Metrics } from "./ops/metrics.ts";
import type { Services } from "./services.ts";

// A closed terminal or pipe (EIO, EPIPE) must not crash the process before it closes its sessions.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

process.exit(await main(process.argv.slice(2)));

async function main(argv: string[]): Promise<number> {
  let commandLine: CommandLine;
  let ask: PreparedAsk | undefined;
  try {
    commandLine = parseCommandLine(argv);
    if (commandLine.command === "help") {
      await writeOut(commandLine.text);
      return exitCodes.answered;
    }
    if (commandLine.command === "version") {
      await writeOut(`threadbook ${threadbookVersion()}\n`);
      return exitCodes.answered;
    }
    if (commandLine.command === "ask") ask = await prepareAsk(commandLine.options);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    writeError(`threadbook: ${error.message}\nRun 'threadbook ${error.command ?? ""}${error.command ? " " : ""}--help' for usage.\n`);
    return exitCodes.usage;
  }

  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    writeWarnings(settingWarnings());
    writeSettingsProblems(error);
    return exitCodes.usage;
  }
  writeWarnings(config.warnings);
  if (commandLine.command === "discord-register") return registerDiscordCommands(config, commandLine.guildId);
  if (commandLine.command === "skills") return runSkills(commandLine.options, config);
  if (commandLine.command === "export") return runExport(commandLine.options, config);
  if (commandLine.command === "usage") return runUsage(commandLine.options, config);
  if (commandLine.command === "audit" || commandLine.command === "sessions") return runOperatorCommand(commandLine, config);

  const bot = commandLine.command === "start" && hasConfiguredPlatform(config);
  let services: Services | undefined;
  let stopping = false;
  const stop = (signal: keyof typeof signalExitCodes) => {
    if (stopping) process.exit(signalExitCodes[signal]);
    stopping = true;
    writeError("\nthreadbook: stopping…\n");
    // A bot asked to stop that let its turns finish and closed cleanly has done what was asked: 0.
    void (services?.close() ?? Promise.resolve()).then(
      () => process.exit(bot ? exitCodes.answered : signalExitCodes[signal]),
      () => process.exit(signalExitCodes[signal]),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGHUP", () => stop("SIGHUP"));

  // Loaded only now: the SDKs take most of a second to load, which --help and a typo should not wait for.
  const { logFileName, startServices } = await import("./services.ts");
  // A bot logs to stderr; the terminal commands log to this file.
  const logPath = bot ? undefined : join(config.dataDir, logFileName);
  const metrics = bot && config.metrics.port !== undefined ? new (await import("./ops/metrics.ts")).Metrics() : undefined;
  try {
    services = await startServices(config, {
      log: bot ? "stderr" : "file",
      // A one-shot ask claims at most one session: a warm pool would start containers only to remove them.
      poolSize: commandLine.command === "ask" ? 0 : config.sandbox.poolSize,
      recoverInterruptedTurns: commandLine.command === "start",
      finishGraceMs: bot ? config.shutdownGraceMs : 0,
      onStatus: (message) => writeError(`threadbook: ${message}\n`),
      ...(metrics === undefined ? {} : { observer: metrics }),
    });
  } catch (error) {
    if (!(error instanceof ThreadbookError)) throw error;
    if (error instanceof ConfigError) {
      writeSettingsProblems(error);
      return exitCodes.usage;
    }
    writeError(`threadbook: ${withLogPath(error.message, logPath)}\n`);
    return isMissingApiKey(error) ? exitCodes.usage : exitCodes.failed;
  }

  const running = services;
  const context: CliContext = {
    agent: services.agent,
    user: cliUser(localUserName()),
    input: process.stdin,
    writeOut,
    writeError,
    promptOutput: process.stderr,
    interrupt: () => stop("SIGINT"),
    onClose: (work) => running.onClose(work),
    logPath,
  };
  try {
    switch (commandLine.command) {
      case "ask":
        return await runAsk(ask as PreparedAsk, context);
      case "chat":
        return await (commandLine.options.jsonl ? runChatLines : runChatTerminal)(commandLine.options, context);
      case "start":
        return await runStart(services, context, metrics);
      default:
        return exitCodes.usage;
    }
  } catch (error) {
    services.logger.error({ err: error }, "command failed");
    writeError(`threadbook: ${withLogPath(userMessage(error), logPath)}\n`);
    return exitCodes.failed;
  } finally {
    await services.close();
  }
}

/** The bot with its chat platforms; with none configured, the local chat. */
async function runStart(services: Services, context: CliContext, metrics: Metrics | undefined): Promise<number> {
  const adapters = await createPlatformAdapters(services.config, services.agent, services.logger, services.skillReview);
  if (adapters.length === 0) {
    writeError("threadbook: no chat platform is configured (set SLACK_BOT_TOKEN for Slack, DISCORD_TOKEN for Discord), so this is the local chat.\n");
    return runChatTerminal({ jsonl: false, conversation: undefined, out: undefined }, context);
  }
  for (const adapter of adapters) {
    // On shutdown every adapter stops at once, sharing THREADBOOK_SHUTDOWN_GRACE_S.
    services.onClose((deadline) => adapter.stop(deadline));
    await adapter.start();
    services.logger.info({ platform: adapter.name, ...(adapter.httpPort === undefined ? {} : { port: adapter.httpPort }) }, "listening");
  }
  const { startOperations } = await import("./ops/operations.ts");
  await startOperations(services, adapters, metrics);
  // Runs until SIGINT, SIGTERM or SIGHUP, whose handler closes the services and exits.
  return new Promise<number>(() => {});
}

/** `threadbook discord register`: needs only the Discord settings, no sandbox and no model. */
async function registerDiscordCommands(config: Config, guildId: string | undefined): Promise<number> {
  if (config.discord === undefined) {
    writeError("threadbook: DISCORD_TOKEN and DISCORD_APPLICATION_ID must be set to register the Discord commands.\n");
    return exitCodes.usage;
  }
  const { registerCommands } = await import("./adapters/discord/commands.ts");
  try {
    const registered = await registerCommands(config.discord, guildId);
    await writeOut(registered.guildId === undefined
      ? `Registered ${registered.count} Discord commands globally; Discord may take up to an hour to show them everywhere.\n`
      : `Registered ${registered.count} Discord commands in server ${registered.guildId}; they are there now.\n`);
    return exitCodes.answered;
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    const reason = status === 401 ? "DISCORD_TOKEN was refused" : status === 403 || status === 404 ? "the application or server was not found, or the bot is not in that server" : error instanceof Error ? error.message : String(error);
    writeError(`threadbook: could not register the Discord commands: ${reason}.\n`);
    return exitCodes.failed;
  }
}

/** `threadbook skills …`: the store and, to check an import's Python, Docker; no model. */
async function runSkills(options: SkillsOptions, config: Config): Promise<number> {
  const { runSkillsCommand } = await import("./adapters/cli/skills-command.ts");
  try {
    await runSkillsCommand(options, config, `cli:${localUserName()}`, writeOut);
    return exitCodes.answered;
  } catch (error) {
    if (error instanceof SkillError) {
      writeError(`threadbook: ${error.message.replace(/\s*\n\s*/g, " ")}\n`);
      return exitCodes.usage;
    }
    writeError(`threadbook: ${userMessage(error)}\n`);
    return exitCodes.failed;
  }
}

/** `threadbook export …`: the store only; no model and no Docker. */
async function runExport(options: ExportOptions, config: Config): Promise<number> {
  const { runExportCommand } = await import("./adapters/cli/export-command.ts");
  try {
    await runExportCommand(options, config, { writeOut, writeError });
    return exitCodes.answered;
  } catch (error) {
    if (error instanceof UsageError) {
      writeError(`threadbook: ${error.message}\nRun 'threadbook export --help' for usage.\n`);
      return exitCodes.usage;
    }
    writeError(`threadbook: ${userMessage(error)}\n`);
    return exitCodes.failed;
  }
}

/** `threadbook usage`: the usage ledger in the store; no model, no Docker. */
async function runUsage(options: UsageOptions, config: Config): Promise<number> {
  const { runUsageCommand } = await import("./adapters/cli/usage-command.ts");
  try {
    await runUsageCommand(options, config, writeOut);
    return exitCodes.answered;
  } catch (error) {
    writeError(`threadbook: ${userMessage(error)}\n`);
    return exitCodes.failed;
  }
}

/** `threadbook audit` (the database) and `threadbook sessions` (the running bot's control socket). */
async function runOperatorCommand(commandLine: Extract<CommandLine, { command: "audit" | "sessions" }>, config: Config): Promise<number> {
  try {
    if (commandLine.command === "audit") await (await import("./adapters/cli/audit-command.ts")).runAuditCommand(commandLine.options, config, writeOut);
    else await (await import("./adapters/cli/sessions-command.ts")).runSessionsCommand(commandLine.options, config, writeOut);
    return exitCodes.answered;
  } catch (error) {
    writeError(`threadbook: ${userMessage(error)}\n`);
    return error instanceof ThreadbookError && error.code === "input_invalid" ? exitCodes.usage : exitCodes.failed;
  }
}

function cliUser(name: string): TurnUser {
  return { platform: "cli", id: name, workspace: null, displayName: name };
}

/**
 * Starting the services checks no credential against the model service, so
 * an authentication failure then is the key missing from the settings.
 */
function isMissingApiKey(error: ThreadbookError): boolean {
  return error.code === "model_auth";
}

function writeSettingsProblems(error: ConfigError): void {
  writeError(`threadbook: the settings are not valid:\n${error.problems.map((problem) => `  - ${problem}\n`).join("")}`);
}

function writeWarnings(warnings: string[]): void {
  for (const warning of warnings) writeError(`threadbook: warning: ${warning}\n`);
}

function localUserName(): string {
  try {
    return userInfo().username || "local";
  } catch {
    return "local";
  }
}

function writeOut(text: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
}

function writeError(text: string): void {
  process.stderr.write(text);
}
