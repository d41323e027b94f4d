/**
 * A mistyped setting is otherwise silently ignored: every THREADBOOK_*,
 * SLACK_* and DISCORD_* variable that is not a known setting gets a warning,
 * naming the closest known one when it is near enough to be a typo.
 */

/** The prefixes threadbook owns; other variables are none of its business. */
const ownedPrefixes = ["THREADBOOK_", "SLACK_", "DISCORD_"];

/**
 * Settings of the chat platforms' adapters, read by those adapters when they
 * come; known here already so setting them draws no warning.
 */
export const platformSettingNames = [
  "DISCORD_TOKEN",
  "DISCORD_APPLICATION_ID",
  "DISCORD_API_URL",
] as const;

export function unknownSettingWarnings(env: NodeJS.ProcessEnv, known: readonly string[]): string[] {
  const knownNames = new Set(known);
  return Object.keys(env)
    .filter((name) => ownedPrefixes.some((prefix) => name.startsWith(prefix)) && !knownNames.has(name))
    .sort()
    .map((name) => {
      const closest = closestName(name, known);
      return `${name} is not a threadbook setting, so it is ignored${closest === undefined ? " (threadbook --help lists the settings)" : `; did you mean ${closest}?`}`;
    });
}

/**
 * The known name fewest edits away, when that is at most about a third of
 * the part after its prefix (the shared prefix says nothing of a typo).
 */
function closestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  if (best === undefined) return undefined;
  const prefix = ownedPrefixes.find((owned) => best.name.startsWith(owned)) ?? "";
  if (best.distance > Math.max(2, Math.floor((best.name.length - prefix.length) / 3))) return undefined;
  return best.name;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(from: string, to: string): number {
  let previous = Array.from({ length: to.length + 1 }, (_, index) => index);
  for (let row = 1; row <= from.length; row += 1) {
    const current = [row];
    for (let column = 1; column <= to.length; column += 1) {
      const substitution = (previous[column - 1] ?? 0) + (from[row - 1] === to[column - 1] ? 0 : 1);
      current.push(Math.min((previous[column] ?? 0) + 1, (current[column - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[to.length] ?? 0;
}
