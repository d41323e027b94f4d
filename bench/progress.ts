/** Progress goes to stderr, so `--json` leaves one JSON object alone on stdout. */
export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}
