/**
 * A command line that cannot run as written: an unknown option, a missing
 * question, a file that cannot be read. Shown as one line; exit code 2.
 */
export class UsageError extends Error {
  /** The command whose help to point at, e.g. "ask". */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}
