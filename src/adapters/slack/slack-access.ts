/** The optional allow-lists: an empty list lets everyone in. */
import type { SlackSettings } from "../../config.ts";

export interface Asker {
  team: string;
  channel: string;
  user: string;
}

export function isAllowed(settings: SlackSettings, asker: Asker): boolean {
  const admits = (list: string[], id: string) => list.length === 0 || list.includes(id);
  return admits(settings.allowedTeams, asker.team) && admits(settings.allowedChannels, asker.channel) && admits(settings.allowedUsers, asker.user);
}

export const refusedNote = "Sorry, threadbook is not enabled for you here. Ask the people who run it to add you.";
