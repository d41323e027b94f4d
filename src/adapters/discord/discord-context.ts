/** What every Discord handler needs: the agent, the settings, the log and the skill review. */
import type { Client } from "discord.js";
import type { DiscordSettings } from "../../config.ts";
import type { Agent } from "../../core/agent.ts";
import type { Logger } from "../../log.ts";
import type { SkillReview } from "../../skills/skill-review.ts";

export interface DiscordContext {
  client: Client<true>;
  agent: Agent;
  settings: DiscordSettings;
  logger: Logger;
  /** Who may approve proposed skills, and the decisions; without it, proposals get no buttons here. */
  skillReview: SkillReview | undefined;
}
