/**
 * Every setting, read from the environment once and validated here. Nothing
 * else reads `process.env`. Each bad or missing value gets its own line, and
 * so does each pair of settings that cannot work together.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.ts";

const seconds = (fallback: number, max = 86_400) => z.coerce.number().positive().max(max).default(fallback);
const count = (fallback: number, max: number) => z.coerce.number().int().min(0).max(max).default(fallback);
const flag = (fallback: boolean) =>
  z.enum(["1", "0", "true", "false", "yes", "no", "on", "off"]).default(fallback ? "true" : "false")
    .transform((value) => ["1", "true", "yes", "on"].includes(value));
const optionalText = z.string().trim().optional().transform((value) => (value ? value : undefined));

const schema = z.object({
  OPENAI_API_KEY: optionalText,
  OPENAI_BASE_URL: z.url({ message: "must be a URL such as https://api.example.com/v1" }).optional().or(z.literal("").transform(() => undefined)),
  THREADBOOK_MODEL: z.string().trim().min(1).default("gpt-5.1"),
  THREADBOOK_MODEL_API: z.enum(["responses", "chat"], { message: "must be 'responses' or 'chat'" }).default("responses"),
  THREADBOOK_MODEL_STREAM: flag(false),
  THREADBOOK_MODEL_IMAGES: flag(true),
  THREADBOOK_MODEL_TIMEOUT_S: seconds(120, 3600),
  THREADBOOK_MODEL_MAX_RETRIES: count(2, 10),

  THREADBOOK_DATA_DIR: z.string().trim().min(1).default("./data"),
  THREADBOOK_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),

  THREADBOOK_CELL_TIMEOUT_S: seconds(60, 3600),
  THREADBOOK_TURN_MAX_STEPS: count(24, 200),
  THREADBOOK_TURN_MAX_CELLS: count(16, 200),
  THREADBOOK_TURN_TIMEOUT_S: seconds(600, 86_400),
  THREADBOOK_TURN_MAX_TOKENS: count(400_000, 100_000_000),
  THREADBOOK_HISTORY_CHARS: count(24_000, 1_000_000),

  THREADBOOK_INSTANCE: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, "lower-case letters, digits and dashes, at most 31").default("threadbook"),
  THREADBOOK_SANDBOX_IMAGE: optionalText,
  THREADBOOK_SANDBOX_RUNTIME: optionalText,
  THREADBOOK_SANDBOX_MEMORY_MB: count(1024, 65_536).pipe(z.number().min(64)),
  THREADBOOK_SANDBOX_CPUS: z.coerce.number().positive().max(64).default(1),
  THREADBOOK_SANDBOX_PIDS: count(128, 65_536).pipe(z.number().min(16)),
  THREADBOOK_SANDBOX_DISK_MB: count(512, 65_536).pipe(z.number().min(8)),
  THREADBOOK_SANDBOX_FILE_MB: count(256, 65_536).pipe(z.number().min(1)),
  THREADBOOK_SANDBOX_POOL_SIZE: count(2, 64),
  THREADBOOK_SANDBOX_IDLE_TTL_S: seconds(3600, 30 * 86_400),
  THREADBOOK_OUTPUT_KB: count(64, 16_384).pipe(z.number().min(1)),
  THREADBOOK_REPLY_MAX_FILES: count(20, 1000),
  THREADBOOK_REPLY_MAX_FILE_MB: count(25, 1024).pipe(z.number().min(1)),
  // connectDocker speaks to a socket or to plain HTTP: no TLS, no ssh://.
  DOCKER_HOST: optionalText.refine((value) => value === undefined || /^unix:\/\/\/.+|^tcp:\/\/[^/:]+(:\d+)?\/?$/.test(value), {
    message: "must be unix:///path/to/docker.sock or tcp://host:port (plain TCP; TLS and ssh:// are not supported)",
  }),
});

type Settings = z.infer<typeof schema>;

/** Settings valid alone but not together, one line each. */
function conflicts(value: Settings): string[] {
  const problems: string[] = [];
  const busySeconds = value.THREADBOOK_CELL_TIMEOUT_S + value.THREADBOOK_MODEL_TIMEOUT_S;
  if (value.THREADBOOK_SANDBOX_IDLE_TTL_S <= busySeconds) {
    problems.push(
      `THREADBOOK_SANDBOX_IDLE_TTL_S: must be greater than THREADBOOK_CELL_TIMEOUT_S + THREADBOOK_MODEL_TIMEOUT_S ` +
        `(${value.THREADBOOK_CELL_TIMEOUT_S} + ${value.THREADBOOK_MODEL_TIMEOUT_S} = ${busySeconds} s; it is ${value.THREADBOOK_SANDBOX_IDLE_TTL_S} s), ` +
        "or a session in use could be removed as idle",
    );
  }
  return problems;
}

export type ModelApi = "responses" | "chat";

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
  };
  dataDir: string;
  logLevel: string;
  turn: { maxSteps: number; maxCells: number; timeoutMs: number; maxTokens: number; historyChars: number };
  sandbox: {
    instance: string;
    image: string | undefined;
    runtime: string | undefined;
    memoryMb: number;
    cpus: number;
    pids: number;
    diskMb: number;
    fileMb: number;
    poolSize: number;
    idleTtlMs: number;
    cellTimeoutMs: number;
    outputBytes: number;
    dockerHost: string | undefined;
  };
  reply: { maxFiles: number; maxFileBytes: number };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  }
  const value = parsed.data;
  const problems = conflicts(value);
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
    },
    dataDir: resolve(value.THREADBOOK_DATA_DIR),
    logLevel: value.THREADBOOK_LOG_LEVEL,
    turn: {
      maxSteps: value.THREADBOOK_TURN_MAX_STEPS,
      maxCells: value.THREADBOOK_TURN_MAX_CELLS,
      timeoutMs: value.THREADBOOK_TURN_TIMEOUT_S * 1000,
      maxTokens: value.THREADBOOK_TURN_MAX_TOKENS,
      historyChars: value.THREADBOOK_HISTORY_CHARS,
    },
    sandbox: {
      instance: value.THREADBOOK_INSTANCE,
      image: value.THREADBOOK_SANDBOX_IMAGE,
      runtime: value.THREADBOOK_SANDBOX_RUNTIME,
      memoryMb: value.THREADBOOK_SANDBOX_MEMORY_MB,
      cpus: value.THREADBOOK_SANDBOX_CPUS,
      pids: value.THREADBOOK_SANDBOX_PIDS,
      diskMb: value.THREADBOOK_SANDBOX_DISK_MB,
      fileMb: value.THREADBOOK_SANDBOX_FILE_MB,
      poolSize: value.THREADBOOK_SANDBOX_POOL_SIZE,
      idleTtlMs: value.THREADBOOK_SANDBOX_IDLE_TTL_S * 1000,
      cellTimeoutMs: value.THREADBOOK_CELL_TIMEOUT_S * 1000,
      outputBytes: value.THREADBOOK_OUTPUT_KB * 1024,
      dockerHost: value.DOCKER_HOST,
    },
    reply: { maxFiles: value.THREADBOOK_REPLY_MAX_FILES, maxFileBytes: value.THREADBOOK_REPLY_MAX_FILE_MB * 1024 * 1024 },
  };
}
