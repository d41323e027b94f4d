/**
 * Ctrl-C in the terminal chat, as a person types it: a terminal's readline
 * over the real agent, a real Docker sandbox, SQLite and the scripted model.
 * Ctrl-C while a cell runs stops that turn and keeps the variables; Ctrl-C
 * at the prompt quits.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { runChatTerminal } from "../src/adapters/cli/chat-terminal.ts";
import type { CliContext } from "../src/adapters/cli/cli-context.ts";
import { loadConfig } from "../src/config.ts";
import { Agent } from "../src/core/agent.ts";
import { createModelClient } from "../src/core/model/create-model-client.ts";
import { openSqliteStore } from "../src/store/sqlite-store.ts";
import { codeStep, startOpenAIServer, textStep } from "./emulators/openai-server.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const apiKey = "sk-test-terminal-0123456789";
const ctrlC = "\x03";

/** Text written to a stream of the chat, with a wait for what has not shown yet. */
class Screen {
  text = "";
  readonly #watchers: { pattern: RegExp; resolve: () => void }[] = [];

  write = (text: string): void => {
    this.text += text;
    for (const watcher of this.#watchers.filter((candidate) => candidate.pattern.test(this.text))) {
      this.#watchers.splice(this.#watchers.indexOf(watcher), 1);
      watcher.resolve();
    }
  };

  shows(pattern: RegExp): Promise<void> {
    if (pattern.test(this.text)) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ pattern, resolve }));
  }
}

test("terminal chat: Ctrl-C while a cell runs stops that answer and keeps its variables; Ctrl-C at the prompt quits", { timeout: 180_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "threadbook-terminal-"));
  const instance = testInstance();
  const emulator = await startOpenAIServer({ apiKey });
  const sandbox = await startTestSandbox({ instance, cellTimeoutMs: 600_000 });
  const store = openSqliteStore(dataDir);
  const config = loadConfig({ THREADBOOK_DATA_DIR: dataDir, THREADBOOK_CELL_TIMEOUT_S: "600" });
  const model = createModelClient({ ...config.model, apiKey, baseURL: emulator.baseURL, name: "gpt-test", maxRetries: 0 });
  const agent = new Agent({ model, sandbox, store, settings: config });
  t.after(async () => {
    agent.interrupt();
    await agent.idle();
    await sandbox.close();
    await store.close();
    await emulator.stop();
    await removeInstance(instance);
    rmSync(dataDir, { recursive: true, force: true });
  });

  // A terminal: readline reads keys from it, Ctrl-C included, and echoes to the prompt's output.
  const keyboard = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = new Screen();
  const stderr = new Screen();
  const closers: (() => Promise<void>)[] = [];
  let interrupted = 0;
  let quit!: () => void;
  const quitting = new Promise<void>((resolve) => { quit = resolve; });
  const context: CliContext = {
    agent,
    user: { platform: "cli", id: "test", workspace: null, displayName: "test" },
    input: keyboard,
    writeOut: async (text) => stdout.write(text),
    writeError: stderr.write,
    promptOutput: new PassThrough().resume(),
    // As the process would: quitting ends the chat's input.
    interrupt: () => {
      interrupted += 1;
      quit();
      keyboard.end();
    },
    onClose: (work) => void closers.push(work),
    logPath: undefined,
  };
  const chat = runChatTerminal({ jsonl: false, conversation: undefined, out: undefined }, context);

  emulator.script([codeStep("kept = 41"), codeStep("stop_marker = True\nimport time\ntime.sleep(3600)")]);
  keyboard.write("Keep 41, then wait.\r");
  await stderr.shows(/▶ cell 2: stop_marker = True/);
  keyboard.write(ctrlC);
  await Promise.race([stdout.shows(/Stopped by you while cell 2 ran\./), quitting.then(() => assert.fail("Ctrl-C during a turn quit the chat"))]);
  assert.match(stderr.text, /· stopping this answer… \(Ctrl-C again quits\)/);
  assert.equal(interrupted, 0, "Ctrl-C during a turn stops the turn, not the chat");

  emulator.script([codeStep("kept + 1"), textStep("It is 42.")]);
  keyboard.write("What is kept + 1?\r");
  await stdout.shows(/It is 42\./);
  assert.match(stdout.text, /── cell 1 [^\n]*\nkept \+ 1\n── output ──\n42\n/, "variables survived the stop");

  keyboard.write(ctrlC);
  assert.equal(await chat, 0);
  assert.equal(interrupted, 1, "Ctrl-C at the prompt quits");
  for (const close of closers) await close();
  emulator.assertDone();
});
