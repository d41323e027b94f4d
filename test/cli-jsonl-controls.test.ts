/**
 * `chat --jsonl`'s control lines, in-process against an agent that plays
 * scripted replies: they are answered as they arrive while a turn runs, and
 * requests are still answered in order. (The contract in cli-contract.test.ts
 * runs stop and reset against the real agent and sandbox.)
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { runChatLines } from "../src/adapters/cli/chat-lines.ts";
import type { CliContext } from "../src/adapters/cli/cli-context.ts";
import type { Reply, Turn } from "../src/core/turn.ts";

test("chat --jsonl: stop, status and reset are answered while a turn runs; requests keep their order", { timeout: 30_000 }, async () => {
  const input = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  const lineWaiters: { count: number; resolve: () => void }[] = [];
  const turns: { turn: Omit<Turn, "eventKey">; finish: (reply: Reply) => void }[] = [];
  let turnStarted: (() => void) | undefined;
  const calls: string[] = [];
  const context: CliContext = {
    agent: {
      handle: (turn) => new Promise<Reply>((finish) => {
        turns.push({ turn, finish });
        turnStarted?.();
      }),
      stop: (key, by) => {
        calls.push(`stop ${by}`);
        assert.equal(key, turns[0]?.turn.conversationKey);
        return true;
      },
      reset: async (_key, by) => {
        calls.push(`reset ${by}`);
      },
      end: async () => {},
    },
    user: { platform: "cli", id: "test", workspace: null, displayName: "test" },
    input,
    writeOut: async (text) => {
      for (const line of text.trimEnd().split("\n")) lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const waiter of lineWaiters.filter((candidate) => lines.length >= candidate.count)) waiter.resolve();
    },
    writeError: () => {},
    promptOutput: new PassThrough(),
    interrupt: () => assert.fail("nothing interrupts"),
    onClose: () => {},
    logPath: undefined,
  };
  const linesWritten = (count: number) => new Promise<void>((resolve) => {
    if (lines.length >= count) resolve();
    else lineWaiters.push({ count, resolve });
  });
  const started = () => new Promise<void>((resolve) => { turnStarted = resolve; });

  const chat = runChatLines({ jsonl: true, conversation: undefined, out: undefined }, context);
  const first = started();
  input.write(`${JSON.stringify({ command: "status" })}\nFirst question\n`);
  await first;
  input.write(`Second question\n${JSON.stringify({ command: "status" })}\n`);
  await linesWritten(2);
  assert.deepEqual(lines, [
    { command: "status", running: false, waiting: 0 },
    { command: "status", running: true, waiting: 1 },
  ]);

  input.write(`${JSON.stringify({ command: "stop" })}\n${JSON.stringify({ command: "frob" })}\n${JSON.stringify({ command: "stop", by: "Ada" })}\n`);
  await linesWritten(5);
  assert.deepEqual(lines.slice(2), [
    { command: "stop", stopped: true },
    { command: "frob", error: "Line 6: unknown command \"frob\"; the commands are stop, reset, status." },
    { command: "stop", error: "Line 7: a command line holds only \"command\" (got \"by\" too)." },
  ]);
  assert.deepEqual(calls, ["stop you"]);

  const second = started();
  turns[0]?.finish(reply("Stopped by you while cell 1 ran."));
  await second;
  input.write(`${JSON.stringify({ command: "reset" })}\n`);
  await linesWritten(7);
  assert.deepEqual(lines.slice(5), [{ text: "Stopped by you while cell 1 ran." }, { command: "reset", reset: true }].map((line) => ("command" in line ? line : { ...emptyJsonReply, ...line })));
  assert.deepEqual(calls, ["stop you", "reset your reset"]);

  turns[1]?.finish(reply("Second answer."));
  input.end();
  assert.equal(await chat, 0);
  assert.deepEqual(turns.map(({ turn }) => turn.text), ["First question", "Second question"]);
  assert.deepEqual(lines.at(-1), { ...emptyJsonReply, text: "Second answer." });
  assert.equal(lines.length, 8, "one line per request and per control line");
});

const emptyJsonReply = { text: "", cells: [], files: [], filesOmitted: [], limit: null, error: null, stoppedBy: null, conversation: null, proposedSkills: [] };

function reply(text: string): Reply {
  return { text, cells: [], files: [], limit: null, error: null, filesOmitted: [], attachmentsNotPlaced: [], proposedSkills: [], stoppedBy: null, turnId: null };
}
