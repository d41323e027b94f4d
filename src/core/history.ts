/**
 * Earlier turns, fitted to a budget of characters before they go to the
 * model. What matters most survives longest: first the model's earlier
 * reasoning items go (opaque, and worth least once their turn is over), then
 * old cell outputs and code are shortened, then old cells are dropped (oldest
 * turn first), then whole turns (oldest first). The user's questions and the
 * answers go last. History that fits is sent as it is, reasoning included,
 * so every step of a turn sends the same history.
 */
import type { TranscriptItem } from "./model/model-client.ts";
import { headAndTail } from "./bounded-text.ts";

export const LEFT_OUT_NOTE = "(Earlier messages of this conversation are left out to save space.)";

/** Characters counted per item for the wrapping each item gets on the wire. */
const itemOverhead = 16;
/** Shortening rounds: how long an old result's output and an old cell's code may stay. */
const shorteningRounds = [
  { outputChars: 2_000, codeChars: 4_000 },
  { outputChars: 400, codeChars: 1_000 },
];

type Group = TranscriptItem[];

export function trimHistory(items: TranscriptItem[], budgetChars: number): TranscriptItem[] {
  if (budgetChars <= 0) return [];
  if (totalChars(items) <= budgetChars) return items;
  const thought = items.filter((item) => item.type !== "reasoning");
  if (totalChars(thought) <= budgetChars) return thought;

  let turns = splitTurns(thought);
  for (const round of shorteningRounds) {
    turns = turns.map((turn) => turn.map((item) => shorten(item, round.outputChars, round.codeChars)));
    if (totalChars(turns.flat()) <= budgetChars) return turns.flat();
  }
  for (let index = 0; index < turns.length; index++) {
    turns[index] = withoutCells(turns[index] ?? []);
    if (totalChars(turns.flat()) <= budgetChars) return turns.flat();
  }
  const note: TranscriptItem = { type: "user", text: LEFT_OUT_NOTE };
  while (turns.length > 1 && totalChars([note, ...turns.flat()]) > budgetChars) turns.shift();
  const kept = [note, ...turns.flat()];
  if (totalChars(kept) <= budgetChars) return kept;
  // One turn whose own words exceed the budget: keep the head and tail of each.
  const perItem = Math.max(200, Math.floor(budgetChars / kept.length) - itemOverhead);
  return kept.map((item) => (item.type === "user" || item.type === "assistant" ? { ...item, text: headAndTail(item.text, perItem) } : item));
}

export function totalChars(items: TranscriptItem[]): number {
  let total = 0;
  for (const item of items) {
    total += itemOverhead;
    if (item.type === "user" || item.type === "assistant") total += item.text.length;
    else if (item.type === "code") total += item.code.length;
    else if (item.type === "proposal") total += item.arguments.length;
    else if (item.type === "reasoning") total += item.encryptedContent.length;
    else total += item.output.length;
  }
  return total;
}

/** Groups items by turn: each turn starts at a user item. */
function splitTurns(items: TranscriptItem[]): Group[] {
  const turns: Group[] = [];
  for (const item of items) {
    const current = turns.at(-1);
    if (item.type === "user" || current === undefined) turns.push([item]);
    else current.push(item);
  }
  return turns;
}

function shorten(item: TranscriptItem, outputChars: number, codeChars: number): TranscriptItem {
  if (item.type === "result") return { type: "result", callId: item.callId, output: headAndTail(item.output, outputChars) };
  if (item.type === "code") return { ...item, code: headAndTail(item.code, codeChars) };
  return item;
}

/**
 * The turn with its tool calls (code and proposals) and their results left
 * out; the question and the texts stay. A proposal's arguments are never
 * shortened, only dropped with the rest: cut, they would no longer be JSON.
 */
function withoutCells(turn: Group): Group {
  return turn.filter((item) => item.type === "user" || item.type === "assistant");
}
