/**
 * The optional allow-lists: an empty list lets everyone in. SLACK_ALLOWED_TEAMS
 * admits a person only when both the event's workspace and their own are on
 * it: in a Slack Connect channel the event is the host's, and a guest from
 * another organisation says so only in `user_team`.
 */
import type { SlackSettings } from "../../config.ts";

export interface Asker {
  team: string;
  channel: string;
  user: string;
  /** The user's own workspace, when Slack names it (Slack Connect); undefined when it does not. */
  userTeam?: string | undefined;
}

export function isAllowed(settings: SlackSettings, asker: Asker): boolean {
  const admits = (list: string[], id: string) => list.length === 0 || list.includes(id);
  const ownTeamAdmitted = asker.userTeam === undefined || admits(settings.allowedTeams, asker.userTeam);
  return admits(settings.allowedTeams, asker.team) && ownTeamAdmitted && admits(settings.allowedChannels, asker.channel) && admits(settings.allowedUsers, asker.user);
}

export const refusedNote = "Sorry, threadbook is not enabled for you here. Ask the people who run it to add you.";
