/**
 * Every setting, read from the environment once and validated here. Nothing
 * else reads `process.env`. Each bad or missing value gets its own line in
 * plain words, and so does each pair of settings that cannot work together.
 * Variables that look like settings but are none come back as warnings.
 */
import { availableParallelism, totalmem } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { parseAllowList, type EgressPolicy } from "./egress/egress-policy.ts";
import { ConfigError } from "./errors.ts";
import { parseModelPrices, type ModelPrices } from "./model-prices.ts";
import { choice, flag, httpUrl, idList, matching, positiveNumber, setting, snowflakeList, text, wholeNumber, wholeNumberList } from "./setting-rules.ts";
import { platformSettingNames, unknownSettingWarnings } from "./unknown-settings.ts";

/** The project's folder: a relative THREADBOOK_DATA_DIR is under it, wherever threadbook is run from. */
export const projectRoot = fileURLToPath(new URL("..", import.meta.url));

const seconds = (fallback: number, max: number) => positiveNumber(fallback, max, "seconds");
const dayMs = 24 * 60 * 60 * 1000;

/** The reasoning efforts the APIs take (`reasoning.effort`, `reasoning_effort`). */
const reasoningEfforts = ["none", "minimal", "low", "medium", "high", "xhigh", "max"] as const;
export type ReasoningEffort = (typeof reasoningEfforts)[number];
/** The Responses API's `text.verbosity`. */
const verbosities = ["low", "medium", "high"] as const;
export type Verbosity = (typeof verbosities)[number];

/** One Docker endpoint as connectDocker speaks to it: a socket, or plain HTTP. */
const dockerHostPattern = /^unix:\/\/\/.+|^tcp:\/\/[^/:]+(:\d+)?\/?$/;

/** THREADBOOK_DOCKER_HOSTS: every entry an endpoint, none empty (a stray comma is a mistake, not a host). */
function dockerHostList(given: string): string[] | undefined {
  const hosts = given.split(",").map((host) => host.trim());
  return hosts.every((host) => dockerHostPattern.test(host)) ? hosts : undefined;
}

/** The same engine written two ways (a trailing slash, Docker's default port) counts once. */
function engineIdentity(host: string): string {
  const bare = host.replace(/\/+$/, "");
  return /^tcp:\/\/[^:]+$/.test(bare) ? `${bare}:2375` : bare;
}

const allowListMust = "host names (*.example.org for subdomains), IP addresses or CIDR ranges, each with an optional :port, separated by commas";

/** The most shards a bot may be split into here; Discord asks for more only of bots in many thousands of servers. */
const maxDiscordShards = 1024;

const schema = z.object({
  OPENAI_API_KEY: text(undefined, { secret: true }),
  OPENAI_BASE_URL: httpUrl(),
  THREADBOOK_MODEL: text("gpt-5.1"),
  THREADBOOK_MODEL_API: choice("responses", ["responses", "chat"]),
  THREADBOOK_MODEL_STREAM: flag(true),
  THREADBOOK_MODEL_IMAGES: flag(true),
  THREADBOOK_MODEL_TIMEOUT_S: seconds(120, 3600),
  THREADBOOK_MODEL_MAX_RETRIES: wholeNumber(2, 0, 10),
  // Unset: nothing is sent, and the model's own default holds.
  THREADBOOK_MODEL_REASONING_EFFORT: setting<ReasoningEffort | undefined>(undefined, (given) => reasoningEfforts.find((effort) => effort === given.toLowerCase()), `one of ${reasoningEfforts.join(", ")}`),
  THREADBOOK_MODEL_VERBOSITY: setting<Verbosity | undefined>(undefined, (given) => verbosities.find((verbosity) => verbosity === given.toLowerCase()), `one of ${verbosities.join(", ")}`),
  THREADBOOK_MODEL_PRICES: setting<ModelPrices | null>(null, parseModelPrices, "prices per million tokens as input/cached/output, e.g. 1.25/0.125/10, or per model, e.g. gpt-5.1=1.25/0.125/10,gpt-5-mini=0.25/0.025/2"),
  THREADBOOK_USER_TOKENS_PER_DAY: wholeNumber(0, 0, 1_000_000_000_000),
  THREADBOOK_WORKSPACE_TOKENS_PER_DAY: wholeNumber(0, 0, 1_000_000_000_000),

  THREADBOOK_DATA_DIR: text("./data"),
  // Unset: SQLite in THREADBOOK_DATA_DIR. Secret: a URL may carry a password.
  THREADBOOK_DATABASE_URL: setting<string | undefined>(undefined, (given) => (/^postgres(ql)?:\/\/./.test(given) ? given : undefined), "a postgres:// or postgresql:// URL", { secret: true }),
  THREADBOOK_LOG_LEVEL: choice("info", ["fatal", "error", "warn", "info", "debug", "trace", "silent"]),

  THREADBOOK_CELL_TIMEOUT_S: seconds(60, 3600),
  THREADBOOK_TURN_MAX_STEPS: wholeNumber(24, 0, 200),
  THREADBOOK_TURN_MAX_CELLS: wholeNumber(16, 0, 200),
  THREADBOOK_TURN_TIMEOUT_S: seconds(600, 86_400),
  THREADBOOK_TURN_MAX_TOKENS: wholeNumber(400_000, 0, 100_000_000),
  THREADBOOK_HISTORY_CHARS: wholeNumber(24_000, 0, 1_000_000),
  // The whole shutdown, under the 30 s after which Kubernetes (10 s: docker stop) sends SIGKILL.
  THREADBOOK_SHUTDOWN_GRACE_S: wholeNumber(25, 0, 3600),
  // Days; 0 keeps them for ever.
  THREADBOOK_ATTACHMENT_RETENTION_DAYS: wholeNumber(30, 0, 36_500),
  THREADBOOK_TRANSCRIPT_RETENTION_DAYS: wholeNumber(90, 0, 36_500),
  THREADBOOK_AUDIT_RETENTION_DAYS: wholeNumber(365, 0, 36_500),
  // Unset: no endpoint; 0: any free port, named in the "metrics listening" log line.
  THREADBOOK_METRICS_PORT: wholeNumber(undefined, 0, 65_535),
  THREADBOOK_METRICS_HOST: text("127.0.0.1"),

  // Unset: derived from the machine (see capacityDefaults).
  THREADBOOK_MAX_SESSIONS: wholeNumber(undefined, 1, 100_000),
  THREADBOOK_MAX_TURNS: wholeNumber(undefined, 1, 10_000),
  THREADBOOK_MAX_CELLS: wholeNumber(undefined, 1, 10_000),
  THREADBOOK_MAX_QUEUED: wholeNumber(50, 0, 100_000),
  THREADBOOK_USER_MAX_TURNS: wholeNumber(3, 1, 1000),
  THREADBOOK_USER_TURNS_PER_HOUR: wholeNumber(60, 0, 100_000),
  THREADBOOK_MAX_DOWNLOADS: wholeNumber(4, 1, 1000),

  THREADBOOK_INSTANCE: matching("threadbook", /^[a-z0-9][a-z0-9-]{0,30}$/, "lower-case letters, digits and dashes, at most 31, not starting with a dash"),
  THREADBOOK_SANDBOX_IMAGE: text(undefined),
  THREADBOOK_SANDBOX_RUNTIME: text(undefined),
  THREADBOOK_SANDBOX_MEMORY_MB: wholeNumber(1024, 64, 65_536),
  THREADBOOK_SANDBOX_CPUS: positiveNumber(1, 64),
  THREADBOOK_SANDBOX_PIDS: wholeNumber(128, 16, 65_536),
  THREADBOOK_SANDBOX_DISK_MB: wholeNumber(512, 8, 65_536),
  THREADBOOK_SNAPSHOT_MB: wholeNumber(64, 0, 4_096),
  THREADBOOK_SANDBOX_FILE_MB: wholeNumber(256, 1, 65_536),
  THREADBOOK_SANDBOX_POOL_SIZE: wholeNumber(2, 0, 64),
  THREADBOOK_SANDBOX_IDLE_TTL_S: seconds(3600, 30 * 86_400),
  THREADBOOK_OUTPUT_KB: wholeNumber(64, 1, 16_384),
  THREADBOOK_REPLY_MAX_FILES: wholeNumber(20, 0, 1000),
  THREADBOOK_REPLY_MAX_FILE_MB: wholeNumber(25, 1, 1024),
  THREADBOOK_SKILL_APPROVERS: setting<string[]>(
    [],
    (given) => {
      const ids = given.split(",").map((id) => id.trim()).filter((id) => id !== "");
      return ids.every((id) => /^(slack:[A-Z0-9]{2,32}|discord:\d{1,20})$/.test(id)) ? ids : undefined;
    },
    "comma-separated platform user ids, such as slack:U0123ABCD,discord:123456789012345678",
  ),
  THREADBOOK_SKILLS_AUTO_APPROVE: flag(false),
  // connectDocker speaks to a socket or to plain HTTP: no TLS, no ssh://.
  SLACK_BOT_TOKEN: matching(undefined, /^xoxb-\S+$/, "a bot token starting with xoxb-"),
  SLACK_APP_TOKEN: matching(undefined, /^xapp-\S+$/, "an app-level token starting with xapp-"),
  SLACK_SIGNING_SECRET: text(undefined, { secret: true }),
  SLACK_API_URL: httpUrl(),
  SLACK_STREAMING: flag(true),
  SLACK_ALLOWED_TEAMS: idList(),
  SLACK_ALLOWED_CHANNELS: idList(),
  SLACK_ALLOWED_USERS: idList(),
  // 0: any free port, named in the "listening" log line.
  THREADBOOK_HTTP_PORT: wholeNumber(3000, 0, 65_535),
  DISCORD_TOKEN: text(undefined, { secret: true }),
  DISCORD_APPLICATION_ID: matching(undefined, /^\d{1,20}$/, "the application's id, digits only (Developer Portal, General Information)"),
  DISCORD_API_URL: httpUrl(),
  DISCORD_ALLOWED_GUILDS: snowflakeList(),
  DISCORD_ALLOWED_CHANNELS: snowflakeList(),
  DISCORD_ALLOWED_ROLES: snowflakeList(),
  DISCORD_SHARDS: wholeNumberList(maxDiscordShards - 1),
  DISCORD_SHARD_COUNT: wholeNumber(undefined, 1, maxDiscordShards),

  // Unset (and no workspace list): no door out at all, as without this feature.
  THREADBOOK_EGRESS_ALLOW: setting<EgressPolicy | undefined>(undefined, allowList, allowListMust),
  THREADBOOK_EGRESS_TURN_MB: wholeNumber(100, 1, 1_000_000),
  THREADBOOK_EGRESS_REQUESTS_PER_MINUTE: wholeNumber(120, 1, 100_000),
  THREADBOOK_EGRESS_CONNECTION_S: seconds(300, 86_400),
  THREADBOOK_PACKAGES_MB: wholeNumber(256, 8, 65_536),
  // No credentials in it: the URL is in the session's environment, which the user's code reads.
  THREADBOOK_PIP_INDEX_URL: setting<string | undefined>(
    undefined,
    (given) => (URL.canParse(given) && /^https?:$/.test(new URL(given).protocol) && new URL(given).username === "" && new URL(given).password === "" ? given : undefined),
    "an http:// or https:// URL of a simple index, without a user name or password, such as https://pypi.org/simple",
    { secret: true },
  ),

  DOCKER_HOST: matching(undefined, dockerHostPattern, "unix:///path/to/docker.sock or tcp://host:port (plain TCP; TLS and ssh:// are not supported)"),
  // Unset: the one engine of DOCKER_HOST. Set, it replaces DOCKER_HOST for the sessions.
  THREADBOOK_DOCKER_HOSTS: setting<string[]>([], dockerHostList, "Docker endpoints separated by commas, each unix:///path/to/docker.sock or tcp://host:port (plain TCP; TLS and ssh:// are not supported)"),
});

type Settings = z.infer<typeof schema>;

function allowList(given: string): EgressPolicy | undefined {
  try {
    return parseAllowList(given);
  } catch {
    return undefined;
  }
}

/** THREADBOOK_EGRESS_ALLOW_<PLATFORM>_<WORKSPACE>: a workspace's own allow-list, in place of the global one. */
const workspaceAllowPattern = /^THREADBOOK_EGRESS_ALLOW_(SLACK|DISCORD)_([A-Za-z0-9]{1,40})$/;

/** The workspaces' own allow-lists, keyed "slack:T0123" or "discord:1234" (the workspace upper-cased), and a line for each that does not parse. */
function workspaceAllowLists(env: Record<string, string | undefined>): { lists: Record<string, EgressPolicy>; problems: string[] } {
  const lists: Record<string, EgressPolicy> = {};
  const problems: string[] = [];
  for (const [name, given] of Object.entries(env)) {
    const match = workspaceAllowPattern.exec(name);
    if (match === null || given === undefined) continue;
    const policy = allowList(given.trim());
    if (policy === undefined) problems.push(`${name}: must be ${allowListMust}`);
    else lists[`${(match[1] as string).toLowerCase()}:${(match[2] as string).toUpperCase()}`] = policy;
  }
  return { lists, problems };
}

/** Every variable threadbook reads or will read; others with its prefixes draw a warning. */
export const knownSettingNames: readonly string[] = [...Object.keys(schema.shape), ...platformSettingNames];

/** Known settings whose names carry a value (a workspace's id), so no list names them all. */
const knownSettingPatterns: readonly RegExp[] = [workspaceAllowPattern];

/** What the capacity defaults are derived from. */
export interface Machine {
  totalMemoryBytes: number;
  cpus: number;
}

export function thisMachine(): Machine {
  return { totalMemoryBytes: totalmem(), cpus: availableParallelism() };
}

/** Share of the machine's memory that session containers may take together, by default. */
const sessionMemoryShare = 0.75;

/**
 * Capacity follows what a turn waits on. Live sessions: as many as fit in
 * three quarters of the memory at THREADBOOK_SANDBOX_MEMORY_MB each. Turns at
 * once: one a session, since a turn waiting on the model holds its session
 * and nothing else. Cells running at once: one a CPU, since a cell is what
 * uses one.
 */
function capacityDefaults(value: Settings, machine: Machine): { maxSessions: number; maxTurns: number; maxCells: number } {
  const sessionBytes = value.THREADBOOK_SANDBOX_MEMORY_MB * 1024 * 1024;
  const maxSessions = value.THREADBOOK_MAX_SESSIONS ?? Math.max(1, Math.floor((sessionMemoryShare * machine.totalMemoryBytes) / sessionBytes));
  // THREADBOOK_MAX_SESSIONS is per engine: with several, the sessions of all of them can hold turns.
  const maxTurns = value.THREADBOOK_MAX_TURNS ?? maxSessions * engineCount(value);
  const maxCells = value.THREADBOOK_MAX_CELLS ?? Math.max(1, machine.cpus);
  return { maxSessions, maxTurns, maxCells };
}

function engineCount(value: Settings): number {
  return Math.max(1, value.THREADBOOK_DOCKER_HOSTS.length);
}

/** Settings valid alone but not together, one line each. */
function conflicts(value: Settings, machine: Machine): string[] {
  const problems: string[] = [];
  const busySeconds = value.THREADBOOK_CELL_TIMEOUT_S + value.THREADBOOK_MODEL_TIMEOUT_S;
  if (value.THREADBOOK_SANDBOX_IDLE_TTL_S <= busySeconds) {
    problems.push(
      `THREADBOOK_SANDBOX_IDLE_TTL_S: must be greater than THREADBOOK_CELL_TIMEOUT_S + THREADBOOK_MODEL_TIMEOUT_S ` +
        `(${value.THREADBOOK_CELL_TIMEOUT_S} + ${value.THREADBOOK_MODEL_TIMEOUT_S} = ${busySeconds} s; it is ${value.THREADBOOK_SANDBOX_IDLE_TTL_S} s), ` +
        "or a session in use could be removed as idle",
    );
  }
  if ((value.DISCORD_SHARDS === undefined) !== (value.DISCORD_SHARD_COUNT === undefined)) {
    problems.push("DISCORD_SHARDS and DISCORD_SHARD_COUNT: set both (this replica's shard ids, and the bot's shard count across every replica) or neither");
  } else if (value.DISCORD_SHARDS !== undefined && value.DISCORD_SHARD_COUNT !== undefined && value.DISCORD_SHARDS.some((shard) => shard >= value.DISCORD_SHARD_COUNT!)) {
    problems.push(`DISCORD_SHARDS: every shard id must be below DISCORD_SHARD_COUNT (${value.DISCORD_SHARD_COUNT}): ids count from 0`);
  }
  if (value.DISCORD_TOKEN !== undefined && value.DISCORD_APPLICATION_ID === undefined) {
    problems.push("DISCORD_APPLICATION_ID: must be set when DISCORD_TOKEN is (the Developer Portal shows it under General Information)");
  }
  const { maxSessions, maxTurns } = capacityDefaults(value, machine);
  const engines = engineCount(value);
  if (maxTurns > maxSessions * engines) {
    const derived = value.THREADBOOK_MAX_SESSIONS === undefined
      ? `, derived from 75% of this machine's ${Math.round(machine.totalMemoryBytes / 1024 ** 2)} MB memory at ${value.THREADBOOK_SANDBOX_MEMORY_MB} MB a session`
      : "";
    const perEngine = engines > 1 ? ` per engine, on ${engines} engines of THREADBOOK_DOCKER_HOSTS` : "";
    problems.push(
      `THREADBOOK_MAX_TURNS: must not exceed THREADBOOK_MAX_SESSIONS${engines > 1 ? " times the engines" : ""}, since every running turn holds a session ` +
        `(it is ${maxTurns}; THREADBOOK_MAX_SESSIONS is ${maxSessions}${perEngine}${derived})`,
    );
  }
  const seen = new Set<string>();
  for (const host of value.THREADBOOK_DOCKER_HOSTS) {
    const identity = engineIdentity(host);
    if (seen.has(identity)) problems.push(`THREADBOOK_DOCKER_HOSTS: names ${host} twice; name each engine once`);
    seen.add(identity);
  }
  return problems;
}

export interface SlackSettings {
  botToken: string;
  /** Socket Mode (the default) when set; otherwise HTTP mode with `signingSecret`. */
  appToken: string | undefined;
  signingSecret: string | undefined;
  /** The Web API's base, e.g. "https://slack.com/api/"; undefined: Slack's own. */
  apiUrl: string | undefined;
  /** Stream replies (chat.startStream); false: one status message, then the answer. */
  streaming: boolean;
  /** Empty: everyone. */
  allowedTeams: string[];
  allowedChannels: string[];
  allowedUsers: string[];
  /** HTTP mode's port for Slack's requests. */
  httpPort: number;
}

export type ModelApi = "responses" | "chat";

export interface DiscordSettings {
  token: string;
  applicationId: string;
  /** The REST base, e.g. "https://discord.com/api"; the gateway's address is looked up through it. */
  apiUrl: string;
  /** Empty: every guild, channel or role may use the bot. */
  allowedGuilds: string[];
  allowedChannels: string[];
  allowedRoles: string[];
  /**
   * The gateway shards this process runs, and the bot's shard count across
   * every replica (DISCORD_SHARDS, DISCORD_SHARD_COUNT); undefined: one
   * shard, the whole bot. Direct messages arrive on shard 0.
   */
  shards?: { ids: number[]; count: number };
}

/** Discord's own REST base, as discord.js has it. */
export const discordApiUrl = "https://discord.com/api";

export interface Config {
  model: {
    apiKey: string | undefined;
    baseURL: string | undefined;
    name: string;
    api: ModelApi;
    stream: boolean;
    images: boolean;
    timeoutMs: number;
    maxRetries: number;
    /** Sent as `reasoning.effort` (Responses) or `reasoning_effort` (Chat) when set. */
    reasoningEffort?: ReasoningEffort | undefined;
    /** Sent as `text.verbosity` on the Responses API when set. */
    verbosity?: Verbosity | undefined;
  };
  /** What model steps cost, and the daily token budgets counted in the store's usage ledger. */
  usage: {
    /** Null: tokens only, no cost. */
    prices: ModelPrices | null;
    /** One user's model tokens per UTC day; 0: no budget. */
    userTokensPerDay: number;
    /** One workspace's (Slack team's, Discord guild's) model tokens per UTC day; 0: no budget. */
    workspaceTokensPerDay: number;
  };
  dataDir: string;
  /** Postgres for the state, shared by several replicas; undefined: SQLite in `dataDir`. */
  databaseUrl: string | undefined;
  logLevel: string;
  turn: { maxSteps: number; maxCells: number; timeoutMs: number; maxTokens: number; historyChars: number };
  /** On SIGTERM, how long the bot's whole shutdown may take: running turns finish, or are stopped, and their replies are posted within it. */
  shutdownGraceMs: number;
  /** The bot's /healthz, /readyz and /metrics endpoint; `port` undefined: none. */
  metrics: { port: number | undefined; host: string };
  /** How long the bot keeps what users leave behind, pruned in the background; 0: for ever. */
  retention: { attachmentsMs: number; transcriptsMs: number; auditMs: number };
  /** How much the whole bot takes on at once, and each user's share of it. */
  capacity: {
    /** Live session containers at once on each engine; past it the least recently used idle session there is removed. */
    maxSessions: number;
    /** Turns running at once; each holds a session (while it waits on the model too). */
    maxTurns: number;
    /** Cells running at once across every session; a cell past it waits for one to end. */
    maxCells: number;
    /** Turns waiting for a running slot; past it a new turn is refused as busy. */
    maxQueued: number;
    /** One user's turns running or waiting at once. */
    userMaxTurns: number;
    /** One user's turns per rolling hour; 0: no hourly limit. */
    userTurnsPerHour: number;
    /** Files users gave, downloading at once across the bot. */
    maxDownloads: number;
  };
  sandbox: {
    instance: string;
    image: string | undefined;
    runtime: string | undefined;
    memoryMb: number;
    cpus: number;
    pids: number;
    diskMb: number;
    /** A conversation's saved variables, at most; 0: none are saved. */
    snapshotMb: number;
    fileMb: number;
    poolSize: number;
    idleTtlMs: number;
    cellTimeoutMs: number;
    outputBytes: number;
    /** The one engine (DOCKER_HOST) when `dockerHosts` is empty; Docker's default socket when undefined. */
    dockerHost: string | undefined;
    /** THREADBOOK_DOCKER_HOSTS: the engines sessions are placed on; empty: the one of `dockerHost`. */
    dockerHosts: string[];
  };
  /** The door out of sessions (src/egress/); `enabled` false: no door, no network, as without it. */
  egress: {
    enabled: boolean;
    /** THREADBOOK_EGRESS_ALLOW; undefined: nothing, except where a workspace has its own list. */
    allow: EgressPolicy | undefined;
    /** A workspace's own list, in place of the global one; keyed "slack:T0123", "discord:1234". */
    workspaces: Record<string, EgressPolicy>;
    turnBytes: number;
    requestsPerMinute: number;
    connectionMs: number;
    /** The session's package directory (pip's target), a tmpfs counted against its memory. */
    packagesMb: number;
    pipIndexUrl: string | undefined;
  };
  reply: { maxFiles: number; maxFileBytes: number };
  skills: {
    /** Platform user ids ("slack:U123", "discord:456") who may approve or reject a proposed skill. */
    approvers: string[];
    /** Every proposal approved at once, for a single-user setup. */
    autoApprove: boolean;
  };
  /** The Slack adapter's settings; undefined when SLACK_BOT_TOKEN is not set. */
  slack: SlackSettings | undefined;
  /** The Discord bot; undefined when DISCORD_TOKEN is not set. */
  discord: DiscordSettings | undefined;
  /** Variables that look like settings but are none (a typo, most likely), one line each, for the user to see. */
  warnings: string[];
}

/**
 * Reads the settings; throws a ConfigError listing every problem. An empty
 * value counts as unset, as a .env file line `NAME=` means.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, machine: Machine = thisMachine()): Config {
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ""));
  const parsed = schema.safeParse(given);
  const workspaces = workspaceAllowLists(given);
  if (!parsed.success) {
    throw new ConfigError([...parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`), ...workspaces.problems]);
  }
  const value = parsed.data;
  const problems = [...conflicts(value, machine), ...slackProblems(value), ...workspaces.problems];
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    model: {
      apiKey: value.OPENAI_API_KEY,
      baseURL: value.OPENAI_BASE_URL,
      name: value.THREADBOOK_MODEL,
      api: value.THREADBOOK_MODEL_API,
      stream: value.THREADBOOK_MODEL_STREAM,
      images: value.THREADBOOK_MODEL_IMAGES,
      timeoutMs: value.THREADBOOK_MODEL_TIMEOUT_S * 1000,
      maxRetries: value.THREADBOOK_MODEL_MAX_RETRIES,
      reasoningEffort: value.THREADBOOK_MODEL_REASONING_EFFORT,
      verbosity: value.THREADBOOK_MODEL_VERBOSITY,
    },
    usage: {
      prices: value.THREADBOOK_MODEL_PRICES,
      userTokensPerDay: value.THREADBOOK_USER_TOKENS_PER_DAY,
      workspaceTokensPerDay: value.THREADBOOK_WORKSPACE_TOKENS_PER_DAY,
    },
    dataDir: resolve(projectRoot, value.THREADBOOK_DATA_DIR),
    databaseUrl: value.THREADBOOK_DATABASE_URL,
    logLevel: value.THREADBOOK_LOG_LEVEL,
    turn: {
      maxSteps: value.THREADBOOK_TURN_MAX_STEPS,
      maxCells: value.THREADBOOK_TURN_MAX_CELLS,
      timeoutMs: value.THREADBOOK_TURN_TIMEOUT_S * 1000,
      maxTokens: value.THREADBOOK_TURN_MAX_TOKENS,
      historyChars: value.THREADBOOK_HISTORY_CHARS,
    },
    shutdownGraceMs: value.THREADBOOK_SHUTDOWN_GRACE_S * 1000,
    metrics: { port: value.THREADBOOK_METRICS_PORT, host: value.THREADBOOK_METRICS_HOST },
    retention: {
      attachmentsMs: value.THREADBOOK_ATTACHMENT_RETENTION_DAYS * dayMs,
      transcriptsMs: value.THREADBOOK_TRANSCRIPT_RETENTION_DAYS * dayMs,
      auditMs: value.THREADBOOK_AUDIT_RETENTION_DAYS * dayMs,
    },
    capacity: {
      ...capacityDefaults(value, machine),
      maxQueued: value.THREADBOOK_MAX_QUEUED,
      userMaxTurns: value.THREADBOOK_USER_MAX_TURNS,
      userTurnsPerHour: value.THREADBOOK_USER_TURNS_PER_HOUR,
      maxDownloads: value.THREADBOOK_MAX_DOWNLOADS,
    },
    sandbox: {
      instance: value.THREADBOOK_INSTANCE,
      image: value.THREADBOOK_SANDBOX_IMAGE,
      runtime: value.THREADBOOK_SANDBOX_RUNTIME,
      memoryMb: value.THREADBOOK_SANDBOX_MEMORY_MB,
      cpus: value.THREADBOOK_SANDBOX_CPUS,
      pids: value.THREADBOOK_SANDBOX_PIDS,
      diskMb: value.THREADBOOK_SANDBOX_DISK_MB,
      snapshotMb: value.THREADBOOK_SNAPSHOT_MB,
      fileMb: value.THREADBOOK_SANDBOX_FILE_MB,
      poolSize: value.THREADBOOK_SANDBOX_POOL_SIZE,
      idleTtlMs: value.THREADBOOK_SANDBOX_IDLE_TTL_S * 1000,
      cellTimeoutMs: value.THREADBOOK_CELL_TIMEOUT_S * 1000,
      outputBytes: value.THREADBOOK_OUTPUT_KB * 1024,
      dockerHost: value.DOCKER_HOST,
      dockerHosts: value.THREADBOOK_DOCKER_HOSTS,
    },
    egress: {
      enabled: value.THREADBOOK_EGRESS_ALLOW !== undefined || Object.keys(workspaces.lists).length > 0,
      allow: value.THREADBOOK_EGRESS_ALLOW,
      workspaces: workspaces.lists,
      turnBytes: value.THREADBOOK_EGRESS_TURN_MB * 1024 * 1024,
      requestsPerMinute: value.THREADBOOK_EGRESS_REQUESTS_PER_MINUTE,
      connectionMs: value.THREADBOOK_EGRESS_CONNECTION_S * 1000,
      packagesMb: value.THREADBOOK_PACKAGES_MB,
      pipIndexUrl: value.THREADBOOK_PIP_INDEX_URL,
    },
    reply: { maxFiles: value.THREADBOOK_REPLY_MAX_FILES, maxFileBytes: value.THREADBOOK_REPLY_MAX_FILE_MB * 1024 * 1024 },
    skills: { approvers: value.THREADBOOK_SKILL_APPROVERS, autoApprove: value.THREADBOOK_SKILLS_AUTO_APPROVE },
    slack: slackSettings(value),
    discord: value.DISCORD_TOKEN === undefined ? undefined : {
      token: value.DISCORD_TOKEN,
      applicationId: value.DISCORD_APPLICATION_ID ?? "",
      apiUrl: (value.DISCORD_API_URL ?? discordApiUrl).replace(/\/+$/, ""),
      allowedGuilds: value.DISCORD_ALLOWED_GUILDS,
      allowedChannels: value.DISCORD_ALLOWED_CHANNELS,
      allowedRoles: value.DISCORD_ALLOWED_ROLES,
      ...(value.DISCORD_SHARDS === undefined || value.DISCORD_SHARD_COUNT === undefined ? {} : { shards: { ids: value.DISCORD_SHARDS, count: value.DISCORD_SHARD_COUNT } }),
    },
    warnings: settingWarnings(env),
  };
}

function slackSettings(value: Settings): SlackSettings | undefined {
  if (value.SLACK_BOT_TOKEN === undefined) return undefined;
  return {
    botToken: value.SLACK_BOT_TOKEN,
    appToken: value.SLACK_APP_TOKEN,
    signingSecret: value.SLACK_SIGNING_SECRET,
    apiUrl: value.SLACK_API_URL,
    streaming: value.SLACK_STREAMING,
    allowedTeams: value.SLACK_ALLOWED_TEAMS,
    allowedChannels: value.SLACK_ALLOWED_CHANNELS,
    allowedUsers: value.SLACK_ALLOWED_USERS,
    httpPort: value.THREADBOOK_HTTP_PORT,
  };
}

function slackProblems(value: Settings): string[] {
  if (value.SLACK_BOT_TOKEN === undefined) {
    const orphans = (["SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"] as const).filter((name) => value[name] !== undefined);
    return orphans.map((name) => `${name}: is set but SLACK_BOT_TOKEN is not; Slack needs the bot token too`);
  }
  if (value.SLACK_APP_TOKEN === undefined && value.SLACK_SIGNING_SECRET === undefined) {
    return ["SLACK_BOT_TOKEN: needs SLACK_APP_TOKEN (Socket Mode, no public URL needed) or SLACK_SIGNING_SECRET (HTTP mode on THREADBOOK_HTTP_PORT)"];
  }
  return [];
}

/** The warnings alone, for showing them beside a ConfigError too. */
export function settingWarnings(env: NodeJS.ProcessEnv = process.env): string[] {
  const named = Object.fromEntries(Object.entries(env).filter(([name]) => !knownSettingPatterns.some((pattern) => pattern.test(name))));
  return unknownSettingWarnings(named, knownSettingNames);
}
