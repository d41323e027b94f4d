/**
 * The real agent with a skill library, for the skill tests: a SQLite store in
 * its own data directory, the real `openai` SDK against a scripted emulator,
 * and the suite's Docker sandbox. Torn down after the test: turns stopped,
 * the sessions of the conversations it was told of released, the emulator's
 * script played out.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { loadConfig, type ModelApi } from "../../src/config.ts";
import { Agent } from "../../src/core/agent.ts";
import { createModelClient } from "../../src/core/model/create-model-client.ts";
import type { DockerSandbox } from "../../src/sandbox/docker/docker-sandbox.ts";
import type { PythonCompileCheck } from "../../src/skills/python-compile-check.ts";
import { SkillLibrary } from "../../src/skills/skill-library.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.ts";
import { startOpenAIServer, type OpenAIServer } from "../emulators/openai-server.ts";

export interface SkillAgentOptions {
  api?: ModelApi;
  stream?: boolean;
  autoApprove?: boolean;
  /** The library's compile check. */
  compileCheck: PythonCompileCheck;
  /** False: the agent is not given the library (the model is offered no proposal tool). */
  withLibrary?: boolean;
}

export interface SkillAgent {
  agent: Agent;
  store: SqliteStore;
  emulator: OpenAIServer;
  library: SkillLibrary;
  /** Has the conversation's session released at teardown. */
  track(conversationKey: string): void;
}

export async function skillAgent(t: TestContext, sandbox: DockerSandbox, dataRoot: string, apiKey: string, options: SkillAgentOptions): Promise<SkillAgent> {
  const dataDir = join(dataRoot, randomBytes(4).toString("hex"));
  const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_CELL_TIMEOUT_S: "30", THREADBOOK_SKILLS_AUTO_APPROVE: options.autoApprove === true ? "true" : "false" });
  const emulator = await startOpenAIServer({ apiKey });
  const store = openSqliteStore(dataDir);
  const model = createModelClient({
    ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", api: options.api ?? "responses", maxRetries: 0, timeoutMs: 20_000, stream: options.stream ?? true,
  });
  const library = new SkillLibrary(store.skills, options.compileCheck);
  const agent = new Agent({ model, sandbox, store, settings: config, ...(options.withLibrary === false ? {} : { skills: library }) });
  const keys = new Set<string>();
  t.after(async () => {
    agent.interrupt();
    await agent.idle();
    for (const key of keys) await sandbox.release(key);
    await store.close();
    await emulator.stop();
    emulator.assertDone();
  });
  return { agent, store, emulator, library, track: (conversationKey) => void keys.add(conversationKey) };
}
