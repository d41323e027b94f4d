/**
 * Proposal calls in the core's pure parts: the history budget and the
 * transcript's open calls. No Docker, no model.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { totalChars, trimHistory } from "../src/core/history.ts";
import type { TranscriptItem } from "../src/core/model/model-client.ts";
import { TurnTranscript } from "../src/core/turn-transcript.ts";

const proposalArguments = JSON.stringify({ name: "fiscal-calendar", description: "d", instructions: "i".repeat(3_000), files: [] });

function proposingTurn(index: number): TranscriptItem[] {
  return [
    { type: "user", text: `keep it ${index}` },
    { type: "proposal", callId: `p${index}`, arguments: proposalArguments },
    { type: "result", callId: `p${index}`, output: "Stored the skill fiscal-calendar as a proposal." },
    { type: "assistant", text: `proposed ${index}` },
  ];
}

test("history: a proposal's arguments count towards the budget, are never cut (they would stop being JSON), and go with the old turn's cells", () => {
  const items = [...proposingTurn(1), ...proposingTurn(2)];
  assert.ok(Number.isFinite(totalChars(items)) && totalChars(items) > 2 * proposalArguments.length);
  assert.equal(trimHistory(items, 100_000), items);

  const trimmed = trimHistory(items, totalChars(items) - 100);
  for (const item of trimmed) if (item.type === "proposal") assert.equal(item.arguments, proposalArguments);
  assert.deepEqual(trimmed.slice(0, 2).map((item) => item.type), ["user", "assistant"], "the oldest turn lost its proposal and its result together");
  assert.deepEqual(trimmed.slice(2).map((item) => item.type), ["user", "proposal", "result", "assistant"]);
});

test("transcript: a proposal call left without a result gets one, as a code call does", () => {
  const transcript = new TurnTranscript();
  transcript.push({ type: "user", text: "keep it" }, { type: "code", callId: "c1", code: "1" }, { type: "proposal", callId: "p1", arguments: "{}" });
  transcript.closeOpenCalls("Not run: the turn was stopped by Ada.");
  assert.deepEqual(
    transcript.items.filter((item) => item.type === "result").map((item) => item.callId),
    ["c1", "p1"],
  );
});
