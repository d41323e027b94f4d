/**
 * The packages a skill installs, as a review message lists them: each in
 * code, all of them when they fit (20 at most of 100 characters each), else
 * the first and how many more, which SKILL.md shown below names in full.
 */

/** Characters of requirements a review message shows before counting the rest. */
const shownChars = 600;

/** e.g. "`tabulate>=0.9`, `tbdemo`"; "" for none. `code` renders one requirement as code on the platform. */
export function packagesList(requirements: readonly string[], code: (requirement: string) => string): string {
  const shown: string[] = [];
  let used = 0;
  for (const requirement of requirements) {
    const item = code(requirement);
    if (shown.length > 0 && used + item.length > shownChars) break;
    shown.push(item);
    used += item.length + 2;
  }
  const more = requirements.length - shown.length;
  return more > 0 ? `${shown.join(", ")} and ${more} more (see SKILL.md)` : shown.join(", ");
}
