/**
 * Builds the ModelClient the settings ask for: one `openai` SDK client, and
 * the Responses or the Chat Completions implementation over it
 * (THREADBOOK_MODEL_API).
 */
import OpenAI from "openai";
import type { Config } from "../../config.ts";
import { ModelError } from "../../errors.ts";
import { silentLogger, type Logger } from "../../log.ts";
import { ChatClient } from "./chat-client.ts";
import type { ModelClient } from "./model-client.ts";
import { rateLimitsToCaller } from "./rate-limit-fetch.ts";
import { ResponsesClient } from "./responses-client.ts";

const defaultBaseURL = "https://api.openai.com/v1";

/** Local servers (Ollama, vLLM, llama.cpp) take any key, but the SDK refuses to start without one. */
const placeholderKey = "threadbook-local-no-key";

export function createModelClient(config: Config["model"], logger: Logger = silentLogger): ModelClient {
  // Passed explicitly so the SDK does not read OPENAI_BASE_URL itself behind config.ts's back.
  const baseURL = config.baseURL ?? defaultBaseURL;
  const apiKey = config.apiKey ?? (isLocalServer(baseURL) ? placeholderKey : undefined);
  if (apiKey === undefined) {
    throw new ModelError("model_auth", "OPENAI_API_KEY is not set. Set it, or point OPENAI_BASE_URL at a local server that needs no key.");
  }
  const client = new OpenAI({
    apiKey,
    baseURL,
    timeout: config.timeoutMs,
    maxRetries: config.maxRetries,
    logger: sdkLogger(logger),
    // Fixed, so OPENAI_LOG cannot make the SDK log request bodies (transcripts, encrypted reasoning).
    logLevel: "warn",
    // A 429 is left to the turn, which waits as the server asks within its own deadline and says so.
    fetch: rateLimitsToCaller(globalThis.fetch),
  });
  const model = config.api === "responses" ? new ResponsesClient(client, config, logger) : new ChatClient(client, config, logger);
  logger.debug({ model: model.description, host: new URL(baseURL).host, stream: config.stream, keyless: config.apiKey === undefined }, "model client ready");
  return model;
}

/** Loopback and private-network hosts: a server of one's own, not a paid service. */
function isLocalServer(baseURL: string): boolean {
  const host = new URL(baseURL).hostname;
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "host.docker.internal" ||
    host === "[::1]" ||
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host) ||
    host === "0.0.0.0"
  );
}

/** The SDK logs `(message, ...details)`; pino takes `(object, message)`. */
function sdkLogger(logger: Logger) {
  const child = logger.child({ component: "openai" });
  const forward = (level: "error" | "warn" | "info" | "debug") => (message: string, ...details: unknown[]) => {
    if (details.length > 0) child[level]({ details }, message);
    else child[level](message);
  };
  return { error: forward("error"), warn: forward("warn"), info: forward("info"), debug: forward("debug") };
}
