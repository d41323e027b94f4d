/**
 * Messages that send the user to "the log" (a Docker or model failure whose
 * cause only the log holds) name the log file, where the terminal's log is one.
 */
const logMention = /(details are in (?:the|its|threadbook's) log)/;

export function withLogPath(message: string, logPath: string | undefined): string {
  if (logPath === undefined || message.includes(logPath)) return message;
  return message.replace(logMention, `$1 (${logPath})`);
}
