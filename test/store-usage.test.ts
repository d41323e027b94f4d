/**
 * The store's part of issue 16 on real SQLite: the usage ledger (recorded,
 * summed by group and model, counted for the daily budgets), a turn ended by
 * a budget, reasoning items kept with the transcript, and schema version 6
 * applied over a version-5 database with its rows kept.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, test } from "node:test";
import { migrations } from "../src/store/migrations.ts";
import { databaseFileName, openSqliteStore } from "../src/store/sqlite-store.ts";
import type { UserRecord } from "../src/store/store.ts";

const ada: UserRecord = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };
const grace: UserRecord = { platform: "slack", id: "U2", workspace: "T1", displayName: null };
const local: UserRecord = { platform: "cli", id: "me", workspace: null, displayName: "me" };
const day = 86_400_000;
/** 2025-03-04 23:00 UTC. */
const start = Date.UTC(2025, 2, 4, 23);

let root: string;
let count = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "threadbook-store-usage-"));
});
after(() => rmSync(root, { recursive: true, force: true }));
const freshDir = () => join(root, `data-${++count}`);

test("the ledger: steps recorded with their user, workspace, conversation and time, summed by each grouping; tokens counted per user and workspace since a time", async (t) => {
  let now = start;
  const store = openSqliteStore(freshDir(), { clock: () => now });
  t.after(() => store.close());
  const turnA = await store.startTurn({ conversationKey: "slack:T1:C1:1", user: ada, text: "q" });
  const turnG = await store.startTurn({ conversationKey: "slack:T1:C1:2", user: grace, text: "q" });
  const turnL = await store.startTurn({ conversationKey: "cli:x", user: local, text: "q" });
  const usage = (input: number, cached: number, output: number, reasoning: number) => ({ inputTokens: input, cachedInputTokens: cached, outputTokens: output, reasoningTokens: reasoning });
  await store.recordModelUsage({ turnId: turnA, conversationKey: "slack:T1:C1:1", user: ada, model: "gpt-5.1", ...usage(100, 50, 10, 4) });
  await store.recordModelUsage({ turnId: turnA, conversationKey: "slack:T1:C1:1", user: ada, model: "gpt-5-mini", ...usage(20, 0, 2, 0) });
  now = start + 2 * 3_600_000; // the next UTC day
  await store.recordModelUsage({ turnId: turnA, conversationKey: "slack:T1:C1:1", user: ada, model: "gpt-5.1", ...usage(200, 150, 20, 8) });
  await store.recordModelUsage({ turnId: turnG, conversationKey: "slack:T1:C1:2", user: grace, model: "gpt-5.1", ...usage(40, 0, 4, 0) });
  await store.recordModelUsage({ turnId: turnL, conversationKey: "cli:x", user: local, model: "gpt-5.1", ...usage(7, 0, 1, 0) });

  const byUser = await store.usageTotals({ sinceMs: 0, by: "user" });
  assert.deepEqual(byUser.map((row) => [row.group, row.model, row.turns, row.steps, row.inputTokens, row.cachedInputTokens, row.outputTokens, row.reasoningTokens]), [
    ["cli:me", "gpt-5.1", 1, 1, 7, 0, 1, 0],
    ["slack:U1", "gpt-5-mini", 1, 1, 20, 0, 2, 0],
    ["slack:U1", "gpt-5.1", 1, 2, 300, 200, 30, 12],
    ["slack:U2", "gpt-5.1", 1, 1, 40, 0, 4, 0],
  ]);
  assert.deepEqual((await store.usageTotals({ sinceMs: 0, by: "workspace" })).map((row) => [row.group, row.model, row.turns, row.inputTokens]), [
    ["cli", "gpt-5.1", 1, 7],
    ["slack:T1", "gpt-5-mini", 1, 20],
    ["slack:T1", "gpt-5.1", 2, 340],
  ]);
  assert.deepEqual((await store.usageTotals({ sinceMs: 0, by: "day" })).map((row) => [row.group, row.model, row.steps]), [
    ["2025-03-04", "gpt-5-mini", 1],
    ["2025-03-04", "gpt-5.1", 1],
    ["2025-03-05", "gpt-5.1", 3],
  ]);
  assert.deepEqual((await store.usageTotals({ sinceMs: 0, by: "conversation" })).map((row) => row.group), ["cli:x", "slack:T1:C1:1", "slack:T1:C1:1", "slack:T1:C1:2"]);
  assert.equal((await store.usageTotals({ sinceMs: now + 1, by: "user" })).length, 0);

  const today = Math.floor(now / day) * day;
  assert.equal(await store.tokensUsedSince({ kind: "user", platform: "slack", id: "U1" }, today), 220);
  assert.equal(await store.tokensUsedSince({ kind: "user", platform: "slack", id: "U1" }, 0), 352);
  assert.equal(await store.tokensUsedSince({ kind: "workspace", platform: "slack", workspace: "T1" }, today), 264);
  assert.equal(await store.tokensUsedSince({ kind: "workspace", platform: "discord", workspace: "T1" }, 0), 0);
});

test("a turn ended by a budget reads back with limit budget; reasoning items are kept with the transcript, fields only", async (t) => {
  const dataDir = freshDir();
  const store = openSqliteStore(dataDir);
  const turn = await store.startTurn({ conversationKey: "k", user: ada, text: "q" });
  const reasoning = { type: "reasoning" as const, id: "rs_1", encryptedContent: "gAAAAAxyz", summary: ["thought"], model: "gpt-5.1" };
  await store.appendTranscript("k", turn, [{ type: "user", text: "q" }, { ...reasoning, extra: "not kept" } as typeof reasoning, { type: "assistant", text: "a" }]);
  await store.finishTurn(turn, { status: "limit", limit: "budget", budget: "workspace", error: null });
  await store.close();
  const reopened = openSqliteStore(dataDir);
  t.after(() => reopened.close());
  assert.deepEqual(await reopened.loadTranscript("k"), [{ type: "user", text: "q" }, reasoning, { type: "assistant", text: "a" }]);
  const record = await reopened.getTurn(turn);
  assert.equal(record?.status, "limit");
  assert.equal(record?.limit, "budget");
});

test("schema version 6 goes over a version-5 database additively: its turns keep their limits, and the ledger starts empty", async (t) => {
  const dataDir = freshDir();
  const store = openSqliteStore(dataDir);
  const turn = await store.startTurn({ conversationKey: "k", user: ada, text: "q" });
  await store.finishTurn(turn, { status: "limit", limit: "cells", error: null });
  await store.close();
  // Back to version 5, as a database the previous threadbook wrote.
  const database = new DatabaseSync(join(dataDir, databaseFileName));
  database.exec("DROP TABLE model_usage; ALTER TABLE turns DROP COLUMN limit_budget; DELETE FROM schema_migrations WHERE version = 6;");
  database.close();
  const upgraded = openSqliteStore(dataDir);
  t.after(() => upgraded.close());
  assert.ok(migrations.some((migration) => migration.version === 6), "version 6 is a migration, applied again over version 5");
  assert.equal((await upgraded.getTurn(turn))?.limit, "cells");
  assert.deepEqual(await upgraded.usageTotals({ sinceMs: 0, by: "user" }), []);
});
