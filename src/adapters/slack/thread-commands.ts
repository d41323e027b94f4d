/** The words that control a thread instead of asking a question, and the help. */
export type ThreadCommand = "help" | "reset" | "stop" | "export";

/** The command a post's text is, if it is one: the bare word, any case, trailing punctuation allowed. */
export function threadCommand(text: string): ThreadCommand | null {
  const word = text.trim().toLowerCase().replace(/[.!?]+$/, "");
  if (word === "" || word === "help") return "help";
  if (word === "reset" || word === "stop" || word === "export") return word;
  return null;
}

export const helpText = [
  "*threadbook* answers questions about data by writing and running Python in a notebook that belongs to this thread.",
  "• Mention me with a question, and attach a CSV or spreadsheet if it is about one. I answer in the thread.",
  "• Reply in the thread to go on: no mention needed, and variables and files are still there.",
  "• `stop` stops the running answer; `reset` starts the thread's notebook afresh; `export` (or *Export notebook* under an answer) uploads the thread as a Jupyter notebook.",
  "• `/threadbook help` shows this.",
].join("\n");
