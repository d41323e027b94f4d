/**
 * What a lost session had installed, as a note to the model: packages live
 * in the session's own directory and go with it, so the model is told which
 * `%pip install` lines its earlier cells ran, to run them again when it
 * needs them. Read from the conversation's transcript (the model's own code),
 * so a reset forgets them too. Bounded: at most 20 names of 100 characters.
 */
import type { TranscriptItem } from "./model/model-client.ts";

/** `%pip install …`, `!pip install …`, `!python -m pip install …`, as the kernel rewrites them (sandbox/runtime/pip_magic.py). */
const installLine = /^[ \t]*(?:%pip3?|!\s*pip3?|!\s*python3?\s+-m\s+pip)[ \t]+install[ \t]+(.+)$/gm;
const requirement = /^[A-Za-z0-9][A-Za-z0-9._\-[\],=<>!~]{0,99}$/;
const maxNames = 20;

export function installedPackages(transcript: readonly TranscriptItem[]): string[] {
  const names = new Set<string>();
  for (const item of transcript) {
    if (item.type !== "code") continue;
    for (const match of item.code.matchAll(installLine)) {
      const words = (match[1] as string).split(/\s+/);
      for (let index = 0; index < words.length; index += 1) {
        const word = words[index] as string;
        if (word.startsWith("-")) {
          // An option that takes a value (-r FILE, --index-url URL, …) takes the next word with it.
          if (/^(-[rcieft]|--(requirement|constraint|index-url|extra-index-url|find-links|target|trusted-host))$/.test(word)) index += 1;
          continue;
        }
        if (requirement.test(word) && names.size < maxNames) names.add(word);
      }
    }
  }
  return [...names];
}

/** The note for a turn whose session was lost; empty when nothing had been installed. */
export function installedPackagesNote(transcript: readonly TranscriptItem[]): string {
  const names = installedPackages(transcript);
  if (names.length === 0) return "";
  return `Packages installed earlier in this conversation are gone with the session: ${names.join(", ")}. Run %pip install again for those you need.`;
}
