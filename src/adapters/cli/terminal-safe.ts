/**
 * Text from users and their code, made safe to print to an operator's
 * terminal: code can hold escape sequences that would move the cursor,
 * rewrite the screen or set the window title, and bidirectional controls
 * that make text read as something else.
 */

/** C0 and C1 controls, DEL, and the bidirectional and invisible format characters. */
const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** One line for a table: each unsafe character shown as its escape (`\x1b`, `\u202e`); tabs and newlines too. */
export function inertLine(text: string): string {
  return text.replace(unsafe, (character) => {
    const code = character.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** JSON text with every unsafe character escaped as \uXXXX (JSON.stringify leaves C1 controls and bidi marks raw); still the same JSON. */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(unsafe, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
