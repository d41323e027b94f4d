/** The settings: defaults, one line per bad value, and the settings that cannot work together. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadConfig, type Machine } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

const repository = fileURLToPath(new URL("..", import.meta.url));
const gigabyte = 1024 ** 3;
/** A machine with 8 GB and 4 CPUs, so derived defaults do not depend on where the tests run. */
const machine: Machine = { totalMemoryBytes: 8 * gigabyte, cpus: 4 };

function problemsOf(env: Record<string, string>, on: Machine = machine): string[] {
  try {
    loadConfig(env, on);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail(`the settings ${JSON.stringify(env)} were accepted`);
}

test("an empty environment loads the defaults", () => {
  const config = loadConfig({}, machine);
  assert.deepEqual(config.model, {
    apiKey: undefined,
    baseURL: undefined,
    name: "gpt-5.1",
    api: "responses",
    stream: true,
    images: true,
    timeoutMs: 120_000,
    maxRetries: 2,
    reasoningEffort: undefined,
    verbosity: undefined,
  });
  assert.deepEqual(config.usage, { prices: null, userTokensPerDay: 0, workspaceTokensPerDay: 0 });
  assert.equal(config.dataDir, join(repository, "data"));
  assert.equal(config.logLevel, "info");
  assert.deepEqual(config.turn, { maxSteps: 24, maxCells: 16, timeoutMs: 600_000, maxTokens: 400_000, historyChars: 24_000 });
  // 75% of 8 GB at 1024 MB a session: 6 sessions, so 6 turns; 4 CPUs: 4 cells at once.
  assert.deepEqual(config.capacity, { maxSessions: 6, maxTurns: 6, maxCells: 4, maxQueued: 50, userMaxTurns: 3, userTurnsPerHour: 60, maxDownloads: 4 });
  assert.deepEqual(config.sandbox, {
    instance: "threadbook",
    image: undefined,
    runtime: undefined,
    memoryMb: 1024,
    cpus: 1,
    pids: 128,
    diskMb: 512,
    snapshotMb: 64,
    fileMb: 256,
    poolSize: 2,
    idleTtlMs: 3_600_000,
    cellTimeoutMs: 60_000,
    outputBytes: 64 * 1024,
    dockerHost: undefined,
    dockerHosts: [],
  });
  assert.deepEqual(config.reply, { maxFiles: 20, maxFileBytes: 25 * 1024 * 1024 });
  const day = 24 * 60 * 60 * 1000;
  assert.deepEqual(config.retention, { attachmentsMs: 30 * day, transcriptsMs: 90 * day, auditMs: 365 * day });
  assert.deepEqual(config.warnings, []);
});

test("values are read as the .env file writes them, empty ones as unset", () => {
  const config = loadConfig({
    OPENAI_BASE_URL: "",
    THREADBOOK_SANDBOX_RUNTIME: "",
    THREADBOOK_MODEL_STREAM: "off",
    THREADBOOK_CELL_TIMEOUT_S: "2.5",
    THREADBOOK_TURN_MAX_STEPS: "",
    THREADBOOK_MAX_SESSIONS: " ",
    DOCKER_HOST: "tcp://127.0.0.1:2375",
  }, machine);
  assert.equal(config.model.baseURL, undefined);
  assert.equal(config.sandbox.runtime, undefined);
  assert.equal(config.model.stream, false);
  assert.equal(config.turn.maxSteps, 24, "an empty value is unset, not 0 (no limit)");
  assert.equal(config.capacity.maxSessions, 6);
  assert.equal(config.sandbox.cellTimeoutMs, 2_500);
  assert.equal(config.sandbox.dockerHost, "tcp://127.0.0.1:2375");
  assert.equal(loadConfig({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }, machine).sandbox.dockerHost, "unix:///run/user/1000/docker.sock");
});

test("each bad value gets its own line in plain words: the variable, what it must be, and what it got", () => {
  const bad: Record<string, string> = {
    OPENAI_BASE_URL: "not a url",
    THREADBOOK_MODEL_API: "soap",
    THREADBOOK_MODEL_STREAM: "maybe",
    THREADBOOK_CELL_TIMEOUT_S: "abc",
    THREADBOOK_TURN_MAX_STEPS: "1.5",
    THREADBOOK_TURN_MAX_CELLS: "-1",
    THREADBOOK_INSTANCE: "Not_Allowed",
    THREADBOOK_SANDBOX_MEMORY_MB: "-5",
    THREADBOOK_SANDBOX_CPUS: "0",
    THREADBOOK_OUTPUT_KB: "0",
    THREADBOOK_LOG_LEVEL: "loud",
    THREADBOOK_MAX_SESSIONS: "0",
    THREADBOOK_USER_TURNS_PER_HOUR: "lots",
    DOCKER_HOST: "ssh://user@host",
  };
  assert.deepEqual(problemsOf(bad), [
    "OPENAI_BASE_URL: must be an http:// or https:// URL such as https://api.example.com/v1 (got not a url)",
    "THREADBOOK_MODEL_API: must be 'responses' or 'chat' (got soap)",
    "THREADBOOK_MODEL_STREAM: must be one of true, false, 1, 0, yes, no, on, off (got maybe)",
    "THREADBOOK_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got loud)",
    "THREADBOOK_CELL_TIMEOUT_S: must be a number of seconds above 0 and at most 3600 (got abc)",
    "THREADBOOK_TURN_MAX_STEPS: must be a whole number from 0 to 200 (got 1.5)",
    "THREADBOOK_TURN_MAX_CELLS: must be a whole number from 0 to 200 (got -1)",
    "THREADBOOK_MAX_SESSIONS: must be a whole number from 1 to 100000 (got 0)",
    "THREADBOOK_USER_TURNS_PER_HOUR: must be a whole number from 0 to 100000 (got lots)",
    "THREADBOOK_INSTANCE: must be lower-case letters, digits and dashes, at most 31, not starting with a dash (got Not_Allowed)",
    "THREADBOOK_SANDBOX_MEMORY_MB: must be a whole number from 64 to 65536 (got -5)",
    "THREADBOOK_SANDBOX_CPUS: must be a number above 0 and at most 64 (got 0)",
    "THREADBOOK_OUTPUT_KB: must be a whole number from 1 to 16384 (got 0)",
    "DOCKER_HOST: must be unix:///path/to/docker.sock or tcp://host:port (plain TCP; TLS and ssh:// are not supported) (got ssh://user@host)",
  ]);
});

test("limits accept their whole range, ends included", () => {
  const config = loadConfig({ THREADBOOK_TURN_MAX_STEPS: "0", THREADBOOK_TURN_MAX_CELLS: "200", THREADBOOK_SANDBOX_MEMORY_MB: "64", THREADBOOK_SANDBOX_CPUS: "0.5", THREADBOOK_MODEL_API: "CHAT" }, machine);
  assert.deepEqual([config.turn.maxSteps, config.turn.maxCells, config.sandbox.memoryMb, config.sandbox.cpus, config.model.api], [0, 200, 64, 0.5, "chat"]);
  assert.deepEqual(problemsOf({ THREADBOOK_TURN_MAX_CELLS: "201", THREADBOOK_SANDBOX_MEMORY_MB: "63" }), [
    "THREADBOOK_TURN_MAX_CELLS: must be a whole number from 0 to 200 (got 201)",
    "THREADBOOK_SANDBOX_MEMORY_MB: must be a whole number from 64 to 65536 (got 63)",
  ]);
});

test("the API key is never repeated in a message", () => {
  // Any text is a valid key; this only proves a refused secret would not be echoed.
  assert.equal(loadConfig({ OPENAI_API_KEY: " sk-secret " }, machine).model.apiKey, "sk-secret");
});

test("an unknown THREADBOOK_, SLACK_ or DISCORD_ variable is a warning naming the closest setting", () => {
  const config = loadConfig({
    THREADBOOK_TURN_MAX_STEP: "2",
    THREADBOOK_SANDBOX_MEMROY_MB: "512",
    SLACK_BOT_TOKN: "xoxb-1",
    SLACK_BOT_TOKEN: "xoxb-1",
    SLACK_APP_TOKEN: "xapp-1",
    DISCORD_APPLICATION_ID: "1",
    THREADBOOK_COLOUR: "blue",
    HOME: "/home/me",
    OPENAI_ORGANIZATION: "org",
  }, machine);
  assert.deepEqual(config.warnings, [
    "SLACK_BOT_TOKN is not a threadbook setting, so it is ignored; did you mean SLACK_BOT_TOKEN?",
    "THREADBOOK_COLOUR is not a threadbook setting, so it is ignored (threadbook --help lists the settings)",
    "THREADBOOK_SANDBOX_MEMROY_MB is not a threadbook setting, so it is ignored; did you mean THREADBOOK_SANDBOX_MEMORY_MB?",
    "THREADBOOK_TURN_MAX_STEP is not a threadbook setting, so it is ignored; did you mean THREADBOOK_TURN_MAX_STEPS?",
  ]);
  assert.equal(config.turn.maxSteps, 24, "the mistyped setting is not applied");
  assert.equal(config.sandbox.memoryMb, 1024);
});

test("capacity: sessions and turns derived from memory, cells at once from CPUs, each settable", () => {
  const small: Machine = { totalMemoryBytes: 2 * gigabyte, cpus: 16 };
  // 75% of 2 GB at 1024 MB: 1.5, so 1 session, and one turn at once; 16 cells at once.
  assert.deepEqual(loadConfig({}, small).capacity, { maxSessions: 1, maxTurns: 1, maxCells: 16, maxQueued: 50, userMaxTurns: 3, userTurnsPerHour: 60, maxDownloads: 4 });
  // At least one session even when one does not fit.
  assert.equal(loadConfig({}, { totalMemoryBytes: gigabyte / 2, cpus: 1 }).capacity.maxSessions, 1);
  // Smaller sessions: more of them.
  assert.equal(loadConfig({ THREADBOOK_SANDBOX_MEMORY_MB: "256" }, small).capacity.maxSessions, 6);
  const big: Machine = { totalMemoryBytes: 64 * gigabyte, cpus: 2 };
  // Turns wait on the model, not on the 2 CPUs: one a session.
  assert.deepEqual(loadConfig({}, big).capacity, { maxSessions: 48, maxTurns: 48, maxCells: 2, maxQueued: 50, userMaxTurns: 3, userTurnsPerHour: 60, maxDownloads: 4 });
  assert.deepEqual(
    loadConfig({ THREADBOOK_MAX_SESSIONS: "10", THREADBOOK_MAX_TURNS: "8", THREADBOOK_MAX_CELLS: "3", THREADBOOK_MAX_QUEUED: "0", THREADBOOK_USER_MAX_TURNS: "1", THREADBOOK_USER_TURNS_PER_HOUR: "0" }, big).capacity,
    { maxSessions: 10, maxTurns: 8, maxCells: 3, maxQueued: 0, userMaxTurns: 1, userTurnsPerHour: 0, maxDownloads: 4 },
  );
  // A lower session cap lowers the derived turn count with it.
  assert.equal(loadConfig({ THREADBOOK_MAX_SESSIONS: "3" }, big).capacity.maxTurns, 3);
});

test("capacity: more turns at once than sessions cannot work, since every running turn holds a session", () => {
  assert.deepEqual(problemsOf({ THREADBOOK_MAX_SESSIONS: "4", THREADBOOK_MAX_TURNS: "5" }), [
    "THREADBOOK_MAX_TURNS: must not exceed THREADBOOK_MAX_SESSIONS, since every running turn holds a session (it is 5; THREADBOOK_MAX_SESSIONS is 4)",
  ]);
  assert.deepEqual(problemsOf({ THREADBOOK_MAX_TURNS: "7" }), [
    "THREADBOOK_MAX_TURNS: must not exceed THREADBOOK_MAX_SESSIONS, since every running turn holds a session " +
      "(it is 7; THREADBOOK_MAX_SESSIONS is 6, derived from 75% of this machine's 8192 MB memory at 1024 MB a session)",
  ]);
  assert.equal(loadConfig({ THREADBOOK_MAX_TURNS: "6" }, machine).capacity.maxTurns, 6);
});

test("THREADBOOK_DOCKER_HOSTS: engines separated by commas; THREADBOOK_MAX_SESSIONS counts on each, so turns default to all of them", () => {
  const config = loadConfig({ THREADBOOK_DOCKER_HOSTS: " unix:///var/run/docker.sock, tcp://10.0.0.7:2375 ,tcp://docker-b", THREADBOOK_MAX_SESSIONS: "4", DOCKER_HOST: "tcp://127.0.0.1:2375" }, machine);
  assert.deepEqual(config.sandbox.dockerHosts, ["unix:///var/run/docker.sock", "tcp://10.0.0.7:2375", "tcp://docker-b"]);
  assert.equal(config.sandbox.dockerHost, "tcp://127.0.0.1:2375", "DOCKER_HOST is still read (the docker command uses it); the list is what sessions use");
  assert.deepEqual([config.capacity.maxSessions, config.capacity.maxTurns], [4, 12]);
  assert.equal(loadConfig({ THREADBOOK_DOCKER_HOSTS: "unix:///a.sock,unix:///b.sock", THREADBOOK_MAX_SESSIONS: "4", THREADBOOK_MAX_TURNS: "8" }, machine).capacity.maxTurns, 8);
  assert.deepEqual(loadConfig({ THREADBOOK_DOCKER_HOSTS: "" }, machine).sandbox.dockerHosts, [], "empty: unset, the one engine of DOCKER_HOST");
});

test("THREADBOOK_DOCKER_HOSTS: a bad entry, an empty one, or an engine named twice is refused in plain words", () => {
  const must = "THREADBOOK_DOCKER_HOSTS: must be Docker endpoints separated by commas, each unix:///path/to/docker.sock or tcp://host:port (plain TCP; TLS and ssh:// are not supported)";
  assert.deepEqual(problemsOf({ THREADBOOK_DOCKER_HOSTS: "unix:///a.sock,ssh://user@b" }), [`${must} (got unix:///a.sock,ssh://user@b)`]);
  assert.deepEqual(problemsOf({ THREADBOOK_DOCKER_HOSTS: "unix:///a.sock,,unix:///b.sock" }), [`${must} (got unix:///a.sock,,unix:///b.sock)`]);
  assert.deepEqual(problemsOf({ THREADBOOK_DOCKER_HOSTS: "tcp://b:2375/path" }), [`${must} (got tcp://b:2375/path)`]);
  assert.deepEqual(problemsOf({ THREADBOOK_DOCKER_HOSTS: "tcp://b,unix:///a.sock,tcp://b:2375/" }), [
    "THREADBOOK_DOCKER_HOSTS: names tcp://b:2375/ twice; name each engine once",
  ]);
  assert.deepEqual(problemsOf({ THREADBOOK_DOCKER_HOSTS: "unix:///a.sock,unix:///b.sock", THREADBOOK_MAX_SESSIONS: "2", THREADBOOK_MAX_TURNS: "5" }), [
    "THREADBOOK_MAX_TURNS: must not exceed THREADBOOK_MAX_SESSIONS times the engines, since every running turn holds a session " +
      "(it is 5; THREADBOOK_MAX_SESSIONS is 2 per engine, on 2 engines of THREADBOOK_DOCKER_HOSTS)",
  ]);
});

test("a relative THREADBOOK_DATA_DIR is in the project's folder, wherever threadbook runs", (t) => {
  const elsewhere = mkdtempSync(join(tmpdir(), "threadbook-config-"));
  const before = process.cwd();
  process.chdir(elsewhere);
  t.after(() => {
    process.chdir(before);
    rmSync(elsewhere, { recursive: true, force: true });
  });
  assert.equal(loadConfig({}, machine).dataDir, join(repository, "data"));
  assert.equal(loadConfig({ THREADBOOK_DATA_DIR: "state/bot" }, machine).dataDir, join(repository, "state", "bot"));
  assert.equal(loadConfig({ THREADBOOK_DATA_DIR: "/var/lib/threadbook" }, machine).dataDir, "/var/lib/threadbook");
});

test("the idle time must exceed a cell's and a model answer's time together, so a session in use is never reaped", () => {
  assert.deepEqual(problemsOf({ THREADBOOK_SANDBOX_IDLE_TTL_S: "180" }), [
    "THREADBOOK_SANDBOX_IDLE_TTL_S: must be greater than THREADBOOK_CELL_TIMEOUT_S + THREADBOOK_MODEL_TIMEOUT_S (60 + 120 = 180 s; it is 180 s), or a session in use could be removed as idle",
  ]);
  assert.equal(loadConfig({ THREADBOOK_SANDBOX_IDLE_TTL_S: "181" }, machine).sandbox.idleTtlMs, 181_000);

  // Long cells and slow models need a longer idle time than the default.
  const slow = { THREADBOOK_CELL_TIMEOUT_S: "3000", THREADBOOK_MODEL_TIMEOUT_S: "900" };
  const problems = problemsOf(slow);
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? "", /^THREADBOOK_SANDBOX_IDLE_TTL_S: .*\(3000 \+ 900 = 3900 s; it is 3600 s\)/);
  assert.equal(loadConfig({ ...slow, THREADBOOK_SANDBOX_IDLE_TTL_S: "4000" }, machine).sandbox.cellTimeoutMs, 3_000_000);
});

test("Slack: unset without a bot token; Socket Mode or HTTP mode needs its own token; allow-lists are comma-separated ids", () => {
  assert.equal(loadConfig({}, machine).slack, undefined);
  const slack = loadConfig({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1", SLACK_ALLOWED_USERS: "U1, U2", SLACK_STREAMING: "false" }, machine).slack;
  assert.deepEqual(slack && { users: slack.allowedUsers, teams: slack.allowedTeams, streaming: slack.streaming, port: slack.httpPort }, { users: ["U1", "U2"], teams: [], streaming: false, port: 3000 });
  assert.throws(() => loadConfig({ SLACK_BOT_TOKEN: "xoxb-1" }, machine), (error: ConfigError) => /SLACK_APP_TOKEN .*or SLACK_SIGNING_SECRET/.test(error.problems.join("\n")));
  assert.throws(() => loadConfig({ SLACK_APP_TOKEN: "xapp-1" }, machine), (error: ConfigError) => /SLACK_APP_TOKEN: is set but SLACK_BOT_TOKEN is not/.test(error.problems.join("\n")));
  assert.throws(() => loadConfig({ SLACK_BOT_TOKEN: "xoxp-1", SLACK_APP_TOKEN: "xapp-1", SLACK_ALLOWED_TEAMS: "t1;t2" }, machine), (error: ConfigError) =>
    error.problems.some((problem) => problem.startsWith("SLACK_BOT_TOKEN: must be a bot token")) && error.problems.some((problem) => problem.startsWith("SLACK_ALLOWED_TEAMS: must be comma-separated ids")));
});

test("discord: undefined without DISCORD_TOKEN; with it, the application id is needed and the allow-lists are id lists", () => {
  assert.equal(loadConfig({}, machine).discord, undefined);
  assert.throws(() => loadConfig({ DISCORD_TOKEN: "token" }, machine), /DISCORD_APPLICATION_ID: must be set when DISCORD_TOKEN is/);
  assert.throws(() => loadConfig({ DISCORD_TOKEN: "token", DISCORD_APPLICATION_ID: "12", DISCORD_ALLOWED_ROLES: "12,ab" }, machine), /DISCORD_ALLOWED_ROLES: must be ids separated by commas/);
  const discord = loadConfig({ DISCORD_TOKEN: "token", DISCORD_APPLICATION_ID: "12", DISCORD_ALLOWED_GUILDS: " 34, 56 ", DISCORD_API_URL: "http://127.0.0.1:9/api/" }, machine).discord;
  assert.deepEqual(discord, { token: "token", applicationId: "12", apiUrl: "http://127.0.0.1:9/api", allowedGuilds: ["34", "56"], allowedChannels: [], allowedRoles: [] });
});

test("model effort, verbosity, prices and daily token budgets: read when set, each bad value said plainly", () => {
  const config = loadConfig(
    {
      THREADBOOK_MODEL_REASONING_EFFORT: "High",
      THREADBOOK_MODEL_VERBOSITY: "low",
      THREADBOOK_MODEL_PRICES: "gpt-5.1=1.25/0.125/10, *=0.25/0.025/2",
      THREADBOOK_USER_TOKENS_PER_DAY: "2000000",
      THREADBOOK_WORKSPACE_TOKENS_PER_DAY: "50000000",
    },
    machine,
  );
  assert.equal(config.model.reasoningEffort, "high");
  assert.equal(config.model.verbosity, "low");
  assert.deepEqual(config.usage, {
    prices: { "gpt-5.1": { input: 1.25, cachedInput: 0.125, output: 10 }, "*": { input: 0.25, cachedInput: 0.025, output: 2 } },
    userTokensPerDay: 2_000_000,
    workspaceTokensPerDay: 50_000_000,
  });
  assert.deepEqual(loadConfig({ THREADBOOK_MODEL_PRICES: "2/0.5/8" }, machine).usage.prices, { "*": { input: 2, cachedInput: 0.5, output: 8 } });
  assert.deepEqual(
    problemsOf({ THREADBOOK_MODEL_REASONING_EFFORT: "extreme", THREADBOOK_MODEL_VERBOSITY: "chatty", THREADBOOK_MODEL_PRICES: "1.25,10", THREADBOOK_USER_TOKENS_PER_DAY: "-1" }),
    [
      "THREADBOOK_MODEL_REASONING_EFFORT: must be one of none, minimal, low, medium, high, xhigh, max (got extreme)",
      "THREADBOOK_MODEL_VERBOSITY: must be one of low, medium, high (got chatty)",
      "THREADBOOK_MODEL_PRICES: must be prices per million tokens as input/cached/output, e.g. 1.25/0.125/10, or per model, e.g. gpt-5.1=1.25/0.125/10,gpt-5-mini=0.25/0.025/2 (got 1.25,10)",
      "THREADBOOK_USER_TOKENS_PER_DAY: must be a whole number from 0 to 1000000000000 (got -1)",
    ],
  );
  // Once known, the settings draw no warning.
  assert.deepEqual(loadConfig({ THREADBOOK_MODEL_REASONING_EFFORT: "low" }, machine).warnings, []);
});

test("usage command line: --since spans, --by groupings and --json, each bad value said plainly", async () => {
  const { parseCommandLine } = await import("../src/adapters/cli/command-line.ts");
  assert.deepEqual(parseCommandLine(["usage"]), { command: "usage", options: { sinceMs: 7 * 86_400_000, since: "7d", by: "day", json: false } });
  assert.deepEqual(parseCommandLine(["usage", "--since", "24h", "--by", "workspace", "--json"]), { command: "usage", options: { sinceMs: 86_400_000, since: "24h", by: "workspace", json: true } });
  assert.throws(() => parseCommandLine(["usage", "--since", "yesterday"]), /--since takes a span such as 30m, 24h, 7d or 4w/);
  assert.throws(() => parseCommandLine(["usage", "--by", "team"]), /--by takes one of user, workspace, conversation, day \(got "team"\)/);
  assert.throws(() => parseCommandLine(["usage", "now"]), /'usage' takes options only/);
  assert.equal(parseCommandLine(["usage", "--help"]).command, "help");
});

test("THREADBOOK_DATABASE_URL: unset is SQLite; a postgres URL is taken as given; anything else is refused without repeating it", () => {
  assert.equal(loadConfig({}, machine).databaseUrl, undefined);
  assert.equal(loadConfig({ THREADBOOK_DATABASE_URL: "" }, machine).databaseUrl, undefined);
  const url = "postgres://threadbook:s3cret@db.internal:5432/threadbook";
  assert.equal(loadConfig({ THREADBOOK_DATABASE_URL: url }, machine).databaseUrl, url);
  assert.equal(loadConfig({ THREADBOOK_DATABASE_URL: "postgresql:///threadbook?host=/run/postgresql" }, machine).databaseUrl, "postgresql:///threadbook?host=/run/postgresql");
  assert.throws(
    () => loadConfig({ THREADBOOK_DATABASE_URL: "mysql://u:hunter2@db/x" }, machine),
    (error: unknown) => error instanceof ConfigError && /THREADBOOK_DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/.test(error.message) && !error.message.includes("hunter2"),
  );
});

test("Discord shards: a replica's shard ids and the shard count, both or neither, ids below the count", () => {
  const discord = { DISCORD_TOKEN: "token-0123", DISCORD_APPLICATION_ID: "123456789012345678" };
  assert.equal(loadConfig(discord).discord?.shards, undefined, "unset: one shard, the whole bot");
  assert.deepEqual(loadConfig({ ...discord, DISCORD_SHARDS: "0, 2", DISCORD_SHARD_COUNT: "4" }).discord?.shards, { ids: [0, 2], count: 4 });
  assert.throws(() => loadConfig({ ...discord, DISCORD_SHARDS: "0" }), /DISCORD_SHARDS and DISCORD_SHARD_COUNT: set both/);
  assert.throws(() => loadConfig({ ...discord, DISCORD_SHARD_COUNT: "2" }), /set both/);
  assert.throws(() => loadConfig({ ...discord, DISCORD_SHARDS: "2", DISCORD_SHARD_COUNT: "2" }), /every shard id must be below DISCORD_SHARD_COUNT \(2\)/);
  assert.throws(() => loadConfig({ ...discord, DISCORD_SHARDS: "1,1", DISCORD_SHARD_COUNT: "2" }), /DISCORD_SHARDS: .*each once/);
  assert.throws(() => loadConfig({ ...discord, DISCORD_SHARDS: "one", DISCORD_SHARD_COUNT: "2" }), /DISCORD_SHARDS/);
  assert.throws(() => loadConfig({ ...discord, DISCORD_SHARDS: "0", DISCORD_SHARD_COUNT: "0" }), /DISCORD_SHARD_COUNT/);
});

