/**
 * An OpenAI-compatible server on loopback that plays scripted model turns.
 * It serves `POST /v1/responses` and `POST /v1/chat/completions`, plain JSON
 * or streamed, to the real `openai` SDK pointed here by `baseURL`.
 *
 * Like openai-agents-js's ScriptedModel it fails loudly: a call when the
 * script is empty, an unknown path, a call (code or proposal) of a tool the
 * request never declared, or a stalled stream for a request that did not stream answers 500
 * and is kept as a fault; `assertDone()` throws on any
 * fault and on steps left unplayed. Every request is recorded, rejected ones
 * too, so a test can assert on what reached the model.
 *
 * On the Responses API it plays a reasoning model as the real one behaves
 * for a stateless caller (openai-reasoning.ts): reasoning items, with
 * encrypted content when asked, checked when they come back; a reasoning
 * item the real API would reject is rejected with its words and kept as a
 * fault. Usage counts cached input tokens as a prompt cache keyed by
 * `prompt_cache_key` would (openai-prompt-cache.ts). A server that does not
 * take some parameters (`rejectParameters`) answers them as unknown, as the
 * real API answers a parameter it lacks; that is no fault.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { chatCompletionBody, chatCompletionEvents } from "./openai-chat-wire.ts";
import { PromptCache } from "./openai-prompt-cache.ts";
import { ReasoningLedger } from "./openai-reasoning.ts";
import { outputItems, responseBody, responseEvents } from "./openai-responses-wire.ts";
import {
  isProposeCall,
  toolNameOf,
  usageFor,
  type ApiErrorBody,
  type EmulatedApi,
  type RecordedRequest,
  type ScriptEntry,
  type ScriptedStep,
  type ServerSentEvent,
} from "./openai-script.ts";

export * from "./openai-script.ts";

export interface OpenAIServerOptions {
  /** When set, a request without `Authorization: Bearer <apiKey>` gets the real API's 401. */
  apiKey?: string;
  /** Top-level body fields this server does not take: a request carrying one gets a 400 "Unknown parameter". */
  rejectParameters?: string[];
  /** The loopback port to listen on, e.g. a stopped server's, to bring the service back where a client expects it; any free one by default. */
  port?: number;
}

export interface OpenAIServer {
  /** e.g. "http://127.0.0.1:40123/v1", for the SDK's `baseURL`. */
  readonly baseURL: string;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** What happened that no test scripted. */
  readonly faults: readonly string[];
  /** Appends steps; each model call plays the next one. */
  script(steps: ScriptEntry[]): void;
  /** Each reasoning item handed out with encrypted content, by id, with the `prompt_cache_key` of the request it answered. */
  issuedReasoning(): Map<string, string | undefined>;
  /** Returns the faults so far and forgets them: for a test that provokes one on purpose and asserts on it. */
  takeFaults(): string[];
  /** Throws when a fault happened (and was not taken) or scripted steps were never played. */
  assertDone(): void;
  stop(): Promise<void>;
}

const paths: Record<string, EmulatedApi> = { "/v1/responses": "responses", "/v1/chat/completions": "chat" };

export async function startOpenAIServer(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const emulator = new ScriptedOpenAIServer(options);
  await emulator.listen();
  return emulator;
}

class ScriptedOpenAIServer implements OpenAIServer {
  readonly requests: RecordedRequest[] = [];
  readonly faults: string[] = [];
  #queue: ScriptEntry[] = [];
  #apiKey: string | undefined;
  #rejectParameters: string[];
  readonly #port: number;
  readonly #reasoning = new ReasoningLedger();
  readonly #cache = new PromptCache();
  #server: Server;
  #baseURL = "";

  constructor(options: OpenAIServerOptions) {
    this.#apiKey = options.apiKey;
    this.#rejectParameters = options.rejectParameters ?? [];
    this.#port = options.port ?? 0;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.faults.push(`emulator failed: ${error instanceof Error ? error.stack : String(error)}`);
        if (!response.headersSent) sendError(response, 500, emulatorError("the emulator itself failed"));
      });
    });
  }

  get baseURL(): string {
    return this.#baseURL;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#port, "127.0.0.1", () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#baseURL = `http://127.0.0.1:${port}/v1`;
  }

  script(steps: ScriptEntry[]): void {
    this.#queue.push(...steps);
  }

  issuedReasoning(): Map<string, string | undefined> {
    return this.#reasoning.issued();
  }

  takeFaults(): string[] {
    return this.faults.splice(0);
  }

  assertDone(): void {
    const problems = [...this.faults];
    if (this.#queue.length > 0) problems.push(`${this.#queue.length} scripted step(s) were never played`);
    if (problems.length > 0) throw new Error(`OpenAI emulator:\n  - ${problems.join("\n  - ")}`);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    response.setHeader("x-request-id", `req_${randomBytes(16).toString("hex")}`);
    const text = await readBody(request);
    const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
    const api = paths[path];
    if (request.method !== "POST" || api === undefined) {
      this.faults.push(`unexpected request ${request.method} ${path}`);
      sendError(response, 404, { message: `Invalid URL (${request.method} ${path})`, type: "invalid_request_error", code: null, param: null });
      return;
    }
    const body = parseObject(text);
    if (body === undefined) {
      this.faults.push(`request to ${path} had a body that is not a JSON object`);
      sendError(response, 400, { message: "We could not parse the JSON body of your request.", type: "invalid_request_error", code: null, param: null });
      return;
    }
    const closed = new Promise<void>((resolve) => response.once("close", resolve));
    const outcome = closed.then(() => (response.writableFinished ? "answered" : "client hung up"));
    const recorded: RecordedRequest = { api, path, headers: request.headers, body, bodyText: text, stream: body["stream"] === true, outcome };
    this.requests.push(recorded);

    if (this.#apiKey !== undefined && request.headers.authorization !== `Bearer ${this.#apiKey}`) {
      sendError(response, 401, {
        message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        type: "invalid_request_error",
        code: "invalid_api_key",
        param: null,
      });
      return;
    }

    const unknown = this.#rejectParameters.find((name) => name in body);
    if (unknown !== undefined) {
      sendError(response, 400, { message: `Unknown parameter: '${unknown}'.`, type: "invalid_request_error", code: "unknown_parameter", param: unknown });
      return;
    }
    const rejection = api === "responses" ? this.#reasoning.check(recorded) : null;
    if (rejection !== null) {
      this.faults.push(`request #${this.requests.length} was rejected as the real API would: ${rejection.error.message}`);
      sendError(response, rejection.status, rejection.error);
      return;
    }

    const entry = this.#queue.shift();
    if (entry === undefined) {
      this.faults.push(`unexpected model call #${this.requests.length} to ${path}: the script is empty`);
      sendError(response, 500, emulatorError(`unexpected model call #${this.requests.length}: the script is empty`));
      return;
    }
    const step = typeof entry === "function" ? entry(recorded) : entry;
    await this.#play(step, recorded, response, closed);
  }

  /** `closed` settles when the connection closes, whoever closed it. */
  async #play(step: ScriptedStep, request: RecordedRequest, response: ServerResponse, closed: Promise<void>): Promise<void> {
    if (step.type === "delay") {
      if (await waitUnlessClosed(step.ms, closed)) await this.#play(step.then, request, response, closed);
      return;
    }
    if (step.type === "hold") {
      const released = step.until.then(() => "released" as const, () => "released" as const);
      const outcome = await Promise.race([released, waitUnlessClosed(step.limitMs, closed).then((elapsed) => (elapsed ? "late" as const : "closed" as const))]);
      if (outcome === "released") await this.#play(step.then, request, response, closed);
      else if (outcome === "late") {
        this.faults.push(`a held step of request #${this.requests.indexOf(request) + 1} was not released within ${step.limitMs} ms`);
        sendError(response, 500, emulatorError("a held step was not released in time"));
      }
      return;
    }
    if (step.type === "error") {
      sendError(response, step.status, step.error, step.headers);
      return;
    }
    if (step.type === "stall" && !request.stream) {
      this.faults.push(`scripted a stalled stream for request #${this.requests.indexOf(request) + 1}, which did not ask to stream`);
      sendError(response, 500, emulatorError("the script stalls a stream, but the request did not ask to stream"));
      return;
    }
    const stall = step.type === "stall" ? { afterTextDeltas: step.afterTextDeltas, limitMs: step.limitMs } : undefined;
    const answer = step.type === "stall" ? step.then : step;
    const undeclared =
      answer.type === "code"
        ? answer.calls.filter((call) => !declaredTools(request, isProposeCall(call) ? "function" : "code").includes(toolNameOf(call))).map(toolNameOf)
        : [];
    if (undeclared.length > 0) {
      this.faults.push(`scripted a call of tool '${undeclared[0]}', which request #${this.requests.indexOf(request) + 1} did not declare`);
      sendError(response, 500, emulatorError(`the script calls tool '${undeclared[0]}', which the request did not declare`));
      return;
    }
    const usage = this.#cache.account(request, usageFor(request, answer));
    const items = request.api === "responses" ? this.#reasoning.reason(request, outputItems(answer)) : [];
    if (request.stream) {
      const events = request.api === "responses" ? responseEvents(request, items, usage) : chatCompletionEvents(request, answer, usage);
      const stalled = await sendEvents(response, events, stall, closed);
      if (stalled) {
        this.faults.push(`the client of request #${this.requests.indexOf(request) + 1} did not hang up on a stalled stream within ${stall?.limitMs} ms`);
        response.destroy();
      }
    } else {
      sendJson(response, 200, request.api === "responses" ? responseBody(request, items, usage) : chatCompletionBody(request, answer, usage));
    }
  }
}

/**
 * Names of the tools the request declares for a kind of call: code calls go
 * to custom tools on Responses and function tools on Chat; proposals to
 * function tools on both.
 */
function declaredTools(request: RecordedRequest, kind: "code" | "function"): string[] {
  const tools = Array.isArray(request.body["tools"]) ? (request.body["tools"] as Record<string, unknown>[]) : [];
  if (request.api === "responses") {
    return tools.filter((tool) => tool["type"] === (kind === "code" ? "custom" : "function")).map((tool) => String(tool["name"]));
  }
  return tools.filter((tool) => tool["type"] === "function").map((tool) => String((tool["function"] as Record<string, unknown>)["name"]));
}

function emulatorError(message: string): ApiErrorBody {
  return { message: `OpenAI emulator: ${message}.`, type: "emulator_error", code: "unexpected_model_call", param: null };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...headers, "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, error: ApiErrorBody, headers: Record<string, string> = {}): void {
  // The emulator's own faults must not be retried by the SDK, or one fault would be counted thrice.
  const retry: Record<string, string> = error.type === "emulator_error" ? { "x-should-retry": "false" } : {};
  sendJson(response, status, { error }, { ...retry, ...headers });
}

interface Stall {
  afterTextDeltas: number;
  limitMs: number;
}

/**
 * Streams the events. With a stall, stops after that many pieces of text and
 * waits for the client to hang up; resolves true when it waited in vain.
 */
async function sendEvents(response: ServerResponse, events: ServerSentEvent[], stall: Stall | undefined, closed: Promise<void>): Promise<boolean> {
  response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
  let textDeltas = 0;
  for (const { event, data, carriesText } of events) {
    const payload = typeof data === "string" ? data : JSON.stringify(data);
    writeSplit(response, Buffer.from(`${event === undefined ? "" : `event: ${event}\n`}data: ${payload}\n\n`));
    if (carriesText === true) textDeltas += 1;
    if (textDeltas === stall?.afterTextDeltas) return await waitUnlessClosed(stall.limitMs, closed);
  }
  response.end();
  return false;
}

/**
 * Writes a frame in two writes, cut inside a multi-byte character when it has
 * one, as a network may cut it: the client must not decode the halves apart.
 */
function writeSplit(response: ServerResponse, frame: Buffer): void {
  const continuation = frame.findIndex((byte) => (byte & 0b1100_0000) === 0b1000_0000);
  const cut = continuation > 0 ? continuation : Math.floor(frame.length / 2);
  response.write(frame.subarray(0, cut));
  response.write(frame.subarray(cut));
}

/** Resolves true after `ms`, or false as soon as the connection closes (e.g. the client's timeout fired). */
async function waitUnlessClosed(ms: number, closed: Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  try {
    return await Promise.race([elapsed, closed.then(() => false)]);
  } finally {
    clearTimeout(timer);
  }
}
