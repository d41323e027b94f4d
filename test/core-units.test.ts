/**
 * The agent core's pure parts: bounding a transcript to its budget and
 * cutting long text to its head and tail. No Docker, no model.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { headAndTail } from "../src/core/bounded-text.ts";
import { LEFT_OUT_NOTE, trimHistory } from "../src/core/history.ts";
import type { TranscriptItem } from "../src/core/model/model-client.ts";

describe("history budget", () => {
  const turn = (question: string, output: string, answer: string, callId: string): TranscriptItem[] => [
    { type: "user", text: question },
    { type: "code", callId, code: "print(data)" },
    { type: "result", callId, output },
    { type: "assistant", text: answer },
  ];

  test("fits as it is when within the budget", () => {
    const items = turn("q1", "short", "a1", "c1");
    assert.equal(trimHistory(items, 10_000), items);
    assert.deepEqual(trimHistory(items, 0), []);
  });

  test("shortens old outputs first, keeping questions and answers", () => {
    const items = [...turn("q1", "x".repeat(20_000), "a1", "c1"), ...turn("q2", "y".repeat(20_000), "a2", "c2")];
    const trimmed = trimHistory(items, 6_000);
    assert.deepEqual(trimmed.map((item) => item.type), items.map((item) => item.type));
    assert.deepEqual(trimmed.filter((item) => item.type === "user" || item.type === "assistant"), items.filter((item) => item.type === "user" || item.type === "assistant"));
    const result = trimmed[2];
    assert.ok(result?.type === "result" && result.output.length <= 2_000 && /characters cut/.test(result.output));
  });

  test("drops old cells, then the oldest turns, with a note", () => {
    const items = Array.from({ length: 30 }, (_, index) => turn(`question ${index} ${"q".repeat(200)}`, "z".repeat(3_000), `answer ${index}`, `c${index}`)).flat();
    const withoutOldCells = trimHistory(items, 9_000);
    assert.equal(withoutOldCells.filter((item) => item.type === "user").length, 30, "every question is kept");
    assert.deepEqual(withoutOldCells.slice(0, 2).map((item) => item.type), ["user", "assistant"], "the oldest turn lost its cells");
    assert.equal(withoutOldCells.at(-2)?.type, "result", "the newest turn kept its cells");
    const fewer = trimHistory(items, 2_000);
    assert.equal(fewer[0]?.type === "user" && fewer[0].text, LEFT_OUT_NOTE);
    assert.equal(fewer.at(-1)?.type === "assistant" && fewer.at(-1)?.type, "assistant");
    assert.match(JSON.stringify(fewer.at(-2)), /question 29/);
    assert.doesNotMatch(JSON.stringify(fewer), /question 0 /);
  });

  test("head and tail keep both ends and say what was cut", () => {
    assert.equal(headAndTail("short", 100), "short");
    const cut = headAndTail("a".repeat(500) + "b".repeat(500), 200);
    assert.ok(cut.length <= 200 && cut.startsWith("a") && cut.endsWith("b"));
    assert.match(cut, /\[\.\.\. 848 characters cut \.\.\.\]/);
  });
});
