/**
 * The CLI's exit codes. A signal ends the process with 128 + its number, as
 * shells report it: 129 SIGHUP (a closed terminal), 130 SIGINT (Ctrl-C), 143
 * SIGTERM.
 */
export const exitCodes = { answered: 0, failed: 1, usage: 2 } as const;

export const signalExitCodes = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
