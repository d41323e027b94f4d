/**
 * The Store contract: what every store must do, run against each one
 * (store-contract-sqlite.test.ts, store-contract-postgres.test.ts) as hono
 * runs one suite against every router. A fixture says how to get a fresh
 * place for a store (a data directory, a database), open a store on it
 * (again, as another process or after a restart would), and count a
 * table's rows past the store.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test, type TestContext } from "node:test";
import type { TranscriptItem } from "../src/core/model/model-client.ts";
import { notebookAnswer, notebookAttachments, notebookBounds, notebookCell } from "../src/core/notebook-cell.ts";
import { StoreError } from "../src/errors.ts";
import type { CellResult } from "../src/sandbox/sandbox.ts";
import type { Store, UserRecord } from "../src/store/store.ts";

export interface StoreOpenOptions {
  clock?: () => number;
  recoverInterruptedTurns?: boolean;
}

export interface StoreFixture {
  /** A place no store has used yet. */
  fresh(): Promise<string>;
  open(place: string, options?: StoreOpenOptions): Promise<Store>;
  /** Rows in `table`, read directly from the database. */
  rowCount(place: string, table: string): Promise<number>;
  /** How many migrations the store's schema has. */
  migrationCount: number;
  /**
   * Whether several replicas of the bot may share the database (Postgres):
   * a store opened to recover then fails only the turns whose lease expired.
   * Otherwise (SQLite) the bot opening it is the only one, and fails every
   * turn left running.
   */
  sharedByReplicas: boolean;
}

const conversationKey = "slack:T1:C1:1700000000.000100";
const ada: UserRecord = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };
const grace: UserRecord = { platform: "slack", id: "U2", workspace: "T1", displayName: null };
const local: UserRecord = { platform: "cli", id: "me", workspace: null, displayName: "me" };
const dayMs = 86_400_000;
/** The smallest PNG: a 1×1 image. */
const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");

function cellResult(fields: Partial<CellResult> = {}): CellResult {
  return {
    stdout: "", stderr: "", stdoutBytes: 0, stderrBytes: 0, value: null, valueHtml: null, error: null, figures: [], figuresOmitted: [],
    files: [], filesOmitted: 0, durationMs: 1, timedOut: false, stopped: false, stateLost: false, ...fields,
  };
}

export function storeContract(name: string, fixture: StoreFixture): void {
  /** Opens a store and closes it when the test ends, even if it fails. */
  async function openForTest(t: TestContext, place: string, options?: StoreOpenOptions): Promise<Store> {
    const store = await fixture.open(place, options);
    t.after(() => store.close());
    return store;
  }

  describe(`the Store contract on ${name}`, () => {
    describe("persistence across reopen", () => {
      test("keeps the conversation, its session binding, transcript order, turns and audit", async () => {
        const place = await fixture.fresh();
        let now = 1_000;
        const clock = () => now;

        const first = await fixture.open(place, { clock });
        const firstTurn = await first.startTurn({ conversationKey, user: ada, text: "median order value?" });
        await first.bindSession(conversationKey, "session-1");
        await first.appendTranscript(conversationKey, firstTurn, [
          { type: "user", text: "median order value?" },
          { type: "code", callId: "call-1", code: "import pandas as pd" },
          { type: "result", callId: "call-1", output: "" },
        ]);
        await first.recordCellRun({ conversationKey, turnId: firstTurn, user: "slack:U1", workspace: "T1", startedAt: 1_100, code: "import pandas as pd", outcome: "ok", durationMs: 12.6, error: null });
        now = 2_000;
        await first.appendTranscript(conversationKey, firstTurn, [{ type: "assistant", text: "It is 42." }]);
        await first.finishTurn(firstTurn, { status: "answered", limit: null, error: null });
        await first.close();

        now = 3_000;
        const second = await fixture.open(place, { clock });
        try {
          assert.deepEqual(await second.getConversation(conversationKey), { key: conversationKey, createdAt: 1_000, updatedAt: 2_000, sessionId: "session-1", sessionBoundAt: 1_000 });
          const followUp = await second.startTurn({ conversationKey, user: grace, text: "and the mean?" });
          await second.appendTranscript(conversationKey, followUp, [{ type: "user", text: "and the mean?" }]);
          await second.recordCellRun({ conversationKey, turnId: followUp, user: "slack:U2", workspace: "T1", startedAt: 3_100, code: "df.mean()", outcome: "error", durationMs: 5, error: "NameError: name 'df' is not defined" });
          await second.finishTurn(followUp, { status: "limit", limit: "cells", error: null });

          assert.deepEqual(await second.loadTranscript(conversationKey), [
            { type: "user", text: "median order value?" },
            { type: "code", callId: "call-1", code: "import pandas as pd" },
            { type: "result", callId: "call-1", output: "" },
            { type: "assistant", text: "It is 42." },
            { type: "user", text: "and the mean?" },
          ]);
          assert.equal((await second.getConversation(conversationKey))?.updatedAt, 3_000);
          assert.deepEqual(await second.getTurn(firstTurn), {
            id: firstTurn, conversationKey, user: ada, text: "median order value?",
            startedAt: 1_000, finishedAt: 2_000, status: "answered", limit: null, error: null,
          });
          assert.equal((await second.getTurn(followUp))?.limit, "cells");

          const runs = await second.listCellRuns({ conversationKey });
          assert.deepEqual(runs.map((run) => [run.turnId, run.user, run.workspace, run.code, run.outcome, run.durationMs]), [
            [firstTurn, "slack:U1", "T1", "import pandas as pd", "ok", 13],
            [followUp, "slack:U2", "T1", "df.mean()", "error", 5],
          ]);
          assert.equal(runs[1]?.error, "NameError: name 'df' is not defined");
          assert.ok(runs[0]!.id < runs[1]!.id);
          assert.deepEqual((await second.listCellRuns({ turnId: followUp })).map((run) => run.code), ["df.mean()"]);
          assert.deepEqual((await second.listCellRuns({ conversationKey, turnId: firstTurn })).map((run) => run.code), ["import pandas as pd"]);
          assert.deepEqual((await second.listCellRuns({ since: 3_000 })).map((run) => run.code), ["df.mean()"]);
          assert.deepEqual((await second.listCellRuns({ user: "U2" })).map((run) => run.code), ["df.mean()"], "a bare id matches on any platform");
          assert.deepEqual((await second.listCellRuns({ user: "slack:U1" })).map((run) => run.code), ["import pandas as pd"]);
          assert.equal((await second.listCellRuns()).length, 2);
          assert.deepEqual(await second.listCellRuns({ conversationKey: "other" }), []);
        } finally {
          await second.close();
        }
      });

      test("an unknown conversation or turn reads as null, and its transcript as empty", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        assert.equal(await store.getConversation("discord:G1:C1:T1"), null);
        assert.equal(await store.getTurn("no-such-turn"), null);
        assert.deepEqual(await store.loadTranscript("discord:G1:C1:T1"), []);
      });

      test("only a transcript item's own fields are saved: image data is dropped, the caller's item left as it was", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        const turnId = await store.startTurn({ conversationKey, user: ada, text: "plot it" });
        const result: TranscriptItem = { type: "result", callId: "call-1", output: "[figure 1: plot.png]", images: [{ mediaType: "image/png", base64: "AAAA" }] };
        const reasoning = { type: "reasoning" as const, id: "rs_1", encryptedContent: "gAAAAAxyz", summary: ["thought"], model: "gpt-5.1" };
        await store.appendTranscript(conversationKey, turnId, [result, { ...reasoning, extra: "not kept" } as typeof reasoning]);
        assert.deepEqual(await store.loadTranscript(conversationKey), [{ type: "result", callId: "call-1", output: "[figure 1: plot.png]" }, reasoning]);
        assert.equal(result.images?.length, 1);
      });

      test("unbinding and resetting a conversation", async (t) => {
        const store = await openForTest(t, await fixture.fresh(), { clock: () => 5_000 });
        const turnId = await store.startTurn({ conversationKey, user: ada, text: "q" });
        await store.bindSession(conversationKey, "session-1");
        await store.appendTranscript(conversationKey, turnId, [{ type: "user", text: "q" }, { type: "assistant", text: "a" }]);
        await store.recordCellRun({ conversationKey, turnId, user: "slack:U1", workspace: "T1", startedAt: 5_000, code: "1", outcome: "ok", durationMs: 1, error: null });

        await store.bindSession(conversationKey, null);
        assert.equal((await store.getConversation(conversationKey))?.sessionId, null);
        assert.equal((await store.getConversation(conversationKey))?.sessionBoundAt, null);
        assert.deepEqual(await store.listBoundConversations(), []);

        await store.bindSession(conversationKey, "session-2");
        await store.bindSession("discord:G1:C1:T1", "session-3");
        assert.deepEqual((await store.listBoundConversations()).map((each) => [each.key, each.sessionId]), [["discord:G1:C1:T1", "session-3"], [conversationKey, "session-2"]]);
        await store.resetConversation(conversationKey);
        assert.deepEqual(await store.loadTranscript(conversationKey), []);
        assert.equal((await store.getConversation(conversationKey))?.sessionId, null);
        assert.equal((await store.listCellRuns({ conversationKey })).length, 1, "the audit log survives a reset");
        assert.equal((await store.getTurn(turnId))?.text, "q");

        const next = await store.startTurn({ conversationKey, user: ada, text: "again" });
        await store.appendTranscript(conversationKey, next, [{ type: "user", text: "again" }]);
        assert.deepEqual(await store.loadTranscript(conversationKey), [{ type: "user", text: "again" }]);
      });

      test("binding a session to a new conversation creates it", async (t) => {
        const store = await openForTest(t, await fixture.fresh(), { clock: () => 7_000 });
        await store.bindSession("cli:local:1", "session-9");
        assert.deepEqual(await store.getConversation("cli:local:1"), { key: "cli:local:1", createdAt: 7_000, updatedAt: 7_000, sessionId: "session-9", sessionBoundAt: 7_000 });
      });
    });

    describe("turns", () => {
      test("count the turns a user started since a time, any status, also after a reopen", async () => {
        const place = await fixture.fresh();
        let now = 1_000;
        const first = await fixture.open(place, { clock: () => now });
        const answered = await first.startTurn({ conversationKey, user: ada, text: "one" });
        await first.finishTurn(answered, { status: "answered", limit: null, error: null });
        now = 2_000;
        await first.startTurn({ conversationKey, user: ada, text: "two" });
        now = 2_500;
        await first.startTurn({ conversationKey, user: grace, text: "someone else" });
        await first.startTurn({ conversationKey: "discord:G1:C1:T1", user: { platform: "discord", id: "U1", workspace: "G1", displayName: null }, text: "same id, other platform" });
        now = 3_000;
        const failed = await first.startTurn({ conversationKey: "slack:T1:C2:1", user: ada, text: "three" });
        await first.finishTurn(failed, { status: "failed", limit: null, error: "model down" });

        assert.deepEqual(await first.userTurnsSince("slack", "U1", 0), { count: 3, oldestStartedAt: 1_000 });
        assert.deepEqual(await first.userTurnsSince("slack", "U1", 2_000), { count: 2, oldestStartedAt: 2_000 }, "a turn started at the time itself counts");
        assert.deepEqual(await first.userTurnsSince("slack", "U1", 3_001), { count: 0, oldestStartedAt: null });
        assert.equal((await first.userTurnsSince("slack", "U2", 0)).count, 1);
        assert.equal((await first.userTurnsSince("discord", "U1", 0)).count, 1);
        assert.equal((await first.userTurnsSince("slack", "nobody", 0)).count, 0);
        await first.close();

        const second = await fixture.open(place, { clock: () => 4_000 });
        try {
          assert.equal((await second.userTurnsSince("slack", "U1", 2_000)).count, 2, "a turn failed on recovery still counts");
        } finally {
          await second.close();
        }
      });

      test("a turn a stopped process left running is failed when the store is opened to recover it, and told about once", async () => {
        const place = await fixture.fresh();
        const crashed = await fixture.open(place, { clock: () => 1_000 });
        const done = await crashed.startTurn({ conversationKey, user: ada, text: "quick" });
        await crashed.finishTurn(done, { status: "answered", limit: null, error: null });
        const running = await crashed.startTurn({ conversationKey, user: ada, text: "long job" });
        await crashed.close();

        const oneOff = await fixture.open(place, { clock: () => 5_000, recoverInterruptedTurns: false });
        try {
          assert.equal((await oneOff.getTurn(running))?.status, "running", "only a store opened to recover fails it");
          assert.deepEqual(await oneOff.takeInterruptedTurns(ada.platform), []);
        } finally {
          await oneOff.close();
        }

        const restarted = await fixture.open(place, { clock: () => 9_000, recoverInterruptedTurns: true });
        try {
          assert.deepEqual(await restarted.getTurn(running), {
            id: running, conversationKey, user: ada, text: "long job",
            startedAt: 1_000, finishedAt: 9_000, status: "failed", limit: null, error: "interrupted by a restart",
          });
          assert.equal((await restarted.getTurn(done))?.finishedAt, 1_000);
          assert.deepEqual(await restarted.takeInterruptedTurns("discord"), []);
          assert.deepEqual((await restarted.takeInterruptedTurns(ada.platform)).map((turn) => [turn.id, turn.conversationKey, turn.text, turn.status]), [[running, conversationKey, "long job", "failed"]]);
          assert.deepEqual(await restarted.takeInterruptedTurns(ada.platform), []);
        } finally {
          await restarted.close();
        }
        const again = await fixture.open(place, { clock: () => 10_000, recoverInterruptedTurns: true });
        try {
          assert.deepEqual(await again.takeInterruptedTurns(ada.platform), [], "a turn is told about after one restart only");
        } finally {
          await again.close();
        }
      });

      test("a second process can open without failing the first one's running turns", async (t) => {
        const place = await fixture.fresh();
        const bot = await openForTest(t, place);
        const running = await bot.startTurn({ conversationKey, user: ada, text: "long job" });
        const oneOff = await openForTest(t, place, { recoverInterruptedTurns: false });
        assert.equal((await oneOff.getTurn(running))?.status, "running");
      });

      test("finishing an unknown turn throws a StoreError", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        await assert.rejects(
          store.finishTurn("no-such-turn", { status: "failed", limit: null, error: "x" }),
          (error: unknown) => error instanceof StoreError && /no turn with id no-such-turn/.test(error.message),
        );
      });

      test("a turn a budget ended reads back with the limit budget", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        const turn = await store.startTurn({ conversationKey: "k", user: ada, text: "q" });
        await store.finishTurn(turn, { status: "limit", limit: "budget", budget: "workspace", error: null });
        assert.equal((await store.getTurn(turn))?.limit, "budget");
        assert.equal((await store.getTurn(turn))?.status, "limit");
      });
    });

    describe("event claims", () => {
      test("a key is claimed once, also across reopen", async () => {
        const place = await fixture.fresh();
        const first = await fixture.open(place);
        assert.equal(await first.claimEvent("slack:Ev1"), true);
        assert.equal(await first.claimEvent("slack:Ev1"), false);
        assert.equal(await first.claimEvent("slack:Ev2"), true);
        await first.close();
        const second = await fixture.open(place);
        try {
          assert.equal(await second.claimEvent("slack:Ev1"), false);
          assert.equal(await second.claimEvent("slack:Ev3"), true);
        } finally {
          await second.close();
        }
      });

      test("pruning forgets only keys older than the given age", async (t) => {
        let now = 10_000;
        const store = await openForTest(t, await fixture.fresh(), { clock: () => now });
        await store.claimEvent("old");
        now = 20_000;
        await store.claimEvent("recent");
        now = 25_000;
        assert.equal(await store.pruneEvents(10_000), 1);
        assert.equal(await store.pruneEvents(10_000), 0);
        assert.equal(await store.claimEvent("old"), true, "a pruned key can be claimed again");
        assert.equal(await store.claimEvent("recent"), false);
      });

    describe("kept variables", () => {
      test("the latest snapshot replaces the one before, reads back byte for byte across reopen, and a reset drops it", async (t) => {
        const place = await fixture.fresh();
        let now = 5_000;
        const first = await fixture.open(place, { clock: () => now });
        assert.equal(await first.loadSnapshot(conversationKey), null);
        await first.saveSnapshot({ conversationKey, data: Buffer.from([0, 1, 2]), names: ["a"], skipped: [], note: null });
        now = 6_000;
        const data = Buffer.from(Array.from({ length: 4096 }, (_, index) => index % 256));
        await first.saveSnapshot({ conversationKey, data, names: ["df", "model"], skipped: [{ name: "handle", why: "an open file" }], note: null });
        await first.close();
        const second = await openForTest(t, place);
        assert.deepEqual(await second.loadSnapshot(conversationKey), {
          conversationKey, data, names: ["df", "model"], skipped: [{ name: "handle", why: "an open file" }], note: null, createdAt: 6_000,
        });
        await second.saveSnapshot({ conversationKey: "other", data: null, names: [], skipped: [], note: "over 64 MB" });
        assert.equal((await second.loadSnapshot("other"))?.note, "over 64 MB");
        assert.equal((await second.loadSnapshot("other"))?.data, null);
        await second.resetConversation(conversationKey);
        assert.equal(await second.loadSnapshot(conversationKey), null);
        assert.notEqual(await second.loadSnapshot("other"), null, "only the reset conversation's goes");
      });
    });

    describe("retention", () => {
      test("attachments, transcripts and cell runs older than the given age go; newer ones and the turn rows stay", async (t) => {
        let now = 1_000;
        const store = await openForTest(t, await fixture.fresh(), { clock: () => now });
        const oldTurn = await store.startTurn({ conversationKey, user: ada, text: "old question" });
        await store.appendTranscript(conversationKey, oldTurn, [{ type: "user", text: "old question" }]);
        await store.recordAttachment({ conversationKey, name: "old.csv", data: Buffer.from("a\n1\n") });
        await store.recordCellRun({ conversationKey, turnId: oldTurn, user: "slack:U1", workspace: "T1", startedAt: 1_000, code: "1", outcome: "ok", durationMs: 1, error: null });
        now = 50_000;
        const newTurn = await store.startTurn({ conversationKey, user: ada, text: "new question" });
        await store.appendTranscript(conversationKey, newTurn, [{ type: "user", text: "new question" }]);
        await store.recordAttachment({ conversationKey, name: "new.csv", data: Buffer.from("b\n2\n") });
        await store.recordCellRun({ conversationKey, turnId: newTurn, user: "slack:U1", workspace: "T1", startedAt: 50_000, code: "2", outcome: "ok", durationMs: 1, error: null });
        now = 60_000;

        assert.equal(await store.pruneAttachments(30_000), 1);
        assert.deepEqual((await store.listAttachments(conversationKey)).map((attachment) => attachment.name), ["new.csv"]);
        assert.equal(await store.pruneTranscripts(30_000), 1);
        assert.deepEqual(await store.loadTranscript(conversationKey), [{ type: "user", text: "new question" }]);
        assert.equal((await store.getTurn(oldTurn))?.text, "", "the old question is blanked, its turn kept");
        assert.equal((await store.getTurn(newTurn))?.text, "new question");
        assert.equal(await store.pruneCellRuns(30_000), 1);
        assert.deepEqual((await store.listCellRuns({ conversationKey })).map((run) => run.code), ["2"]);
        assert.equal(await store.pruneAttachments(30_000), 0, "nothing left to prune");
      });
    });

    describe("egress audit", () => {
      test("every request reads back in order with its user, and filters by time, user and conversation; a reset keeps them", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        const request = {
          conversationKey, turnId: null, user: ada, method: "CONNECT", host: "pypi.org", port: 443, address: "151.101.0.223",
          allowed: true, reason: null, bytesOut: 512, bytesIn: 1_048_576, startedAt: 1_000, durationMs: 250,
        };
        await store.egress.recordRequest(request);
        await store.egress.recordRequest({ ...request, user: grace, conversationKey: "other", host: "169.254.169.254", port: 80, method: "GET", address: null, allowed: false, reason: "a metadata address", bytesIn: 0, startedAt: 2_000 });
        const all = await store.egress.listRequests();
        assert.deepEqual(all.map((record) => [record.host, record.allowed, record.user, record.workspace]), [["pypi.org", true, "slack:U1", "T1"], ["169.254.169.254", false, "slack:U2", "T1"]]);
        assert.equal(all[0]?.bytesIn, 1_048_576);
        assert.equal(all[1]?.reason, "a metadata address");
        assert.deepEqual((await store.egress.listRequests({ since: 1_500 })).map((record) => record.host), ["169.254.169.254"]);
        assert.deepEqual((await store.egress.listRequests({ user: "U1" })).map((record) => record.host), ["pypi.org"]);
        assert.deepEqual((await store.egress.listRequests({ user: "discord:U1" })), []);
        assert.deepEqual((await store.egress.listRequests({ conversationKey: "other" })).map((record) => record.user), ["slack:U2"]);
        await store.resetConversation(conversationKey);
        assert.equal((await store.egress.listRequests()).length, 2);
      });
    });
    });

    describe("feedback", () => {
      test("a verdict is recorded per turn and person, a later one replaces theirs, and it survives a reopen", async () => {
        const place = await fixture.fresh();
        const store = await fixture.open(place);
        const turnId = await store.startTurn({ conversationKey, user: ada, text: "median?" });
        await store.recordFeedback({ turnId, user: ada, rating: "negative" });
        await store.recordFeedback({ turnId, user: grace, rating: "positive" });
        await store.recordFeedback({ turnId, user: ada, rating: "positive" });
        await store.close();
        const reopened = await fixture.open(place);
        try {
          const verdicts = await reopened.listFeedback(turnId);
          assert.deepEqual(verdicts.map((verdict) => [verdict.user.id, verdict.rating]).sort(), [["U1", "positive"], ["U2", "positive"]]);
          assert.deepEqual(verdicts.find((verdict) => verdict.user.id === "U1")?.user, ada);
          assert.deepEqual(await reopened.listFeedback("no-such-turn"), []);
        } finally {
          await reopened.close();
        }
      });

      test("feedback on an unknown turn throws a StoreError and records nothing", async (t) => {
        const place = await fixture.fresh();
        const store = await openForTest(t, place);
        await assert.rejects(store.recordFeedback({ turnId: "no-such-turn", user: ada, rating: "positive" }), StoreError);
        assert.equal(await fixture.rowCount(place, "feedback"), 0);
      });
    });

    describe("kept attachments", () => {
      test("are kept with a row each, listed oldest first, read back across reopen, and dropped by a reset of their conversation only", async () => {
        const place = await fixture.fresh();
        const csv = Buffer.from("region,amount\nnorth,10\nsouth,32\n");
        const first = await fixture.open(place, { clock: () => 4_000 });
        const record = await first.recordAttachment({ conversationKey, name: "sales.csv", data: csv });
        assert.equal((await first.getConversation(conversationKey))?.createdAt, 4_000, "recording creates the conversation");
        assert.deepEqual({ ...record, id: 0, path: "" }, { id: 0, conversationKey, name: "sales.csv", bytes: csv.length, sha256: createHash("sha256").update(csv).digest("hex"), createdAt: 4_000, path: "" });
        const again = await first.recordAttachment({ conversationKey, name: "sales.csv", data: Buffer.from("newer") });
        const other = await first.recordAttachment({ conversationKey: "discord:G1:C1:T1", name: "sales.csv", data: Buffer.from("other") });
        assert.ok(record.id < again.id);
        assert.notEqual(record.path, again.path);
        await first.close();

        const second = await fixture.open(place);
        try {
          assert.deepEqual(await second.listAttachments(conversationKey), [record, again]);
          assert.deepEqual(await second.readAttachment(record), csv);
          assert.equal((await second.readAttachment(again))?.toString(), "newer");
          assert.deepEqual(await second.listAttachments("never-seen"), []);

          await second.resetConversation(conversationKey);
          assert.deepEqual(await second.listAttachments(conversationKey), []);
          assert.equal(await second.readAttachment(record), null, "a reset attachment reads as gone");
          assert.deepEqual(await second.listAttachments("discord:G1:C1:T1"), [other]);
          assert.equal((await second.readAttachment(other))?.toString(), "other");
        } finally {
          await second.close();
        }
      });

      test("an attachment's bytes that no longer match their hash are refused", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        const record = await store.recordAttachment({ conversationKey, name: "a.csv", data: Buffer.from("a") });
        await assert.rejects(store.readAttachment({ ...record, sha256: "0".repeat(64) }), (error: unknown) => error instanceof StoreError && /has changed since it was attached/.test(error.message));
      });
    });

    describe("the usage ledger", () => {
      test("steps recorded with their user, workspace, conversation and time, summed by each grouping; tokens counted per user and workspace since a time", async (t) => {
        /** 2025-03-04 23:00 UTC. */
        const start = Date.UTC(2025, 2, 4, 23);
        let now = start;
        const store = await openForTest(t, await fixture.fresh(), { clock: () => now });
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

        const today = Math.floor(now / dayMs) * dayMs;
        assert.equal(await store.tokensUsedSince({ kind: "user", platform: "slack", id: "U1" }, today), 220);
        assert.equal(await store.tokensUsedSince({ kind: "user", platform: "slack", id: "U1" }, 0), 352);
        assert.equal(await store.tokensUsedSince({ kind: "workspace", platform: "slack", workspace: "T1" }, today), 264);
        assert.equal(await store.tokensUsedSince({ kind: "workspace", platform: "discord", workspace: "T1" }, 0), 0);
      });
    });

    describe("the notebook", () => {
      test("a turn's attachments, cells with figures and answer come back in order; a reset drops them; an unknown conversation is null", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        const key = "slack:T1:C1:1.0";
        assert.equal(await store.notebook.loadNotebook(key), null);
        const turnId = await store.startTurn({ conversationKey: key, user: ada, text: "Plot it" });
        await store.notebook.recordTurn(turnId, notebookAttachments([{ name: "a.csv", data: Buffer.from("x,y\n") }]));
        await store.notebook.recordTurn(turnId, []);
        const figure = { name: "figure-1.png", bytes: png.length, png };
        await store.notebook.recordCell(notebookCell(key, turnId, "print(1)", cellResult({ stdout: "1\n" }), [], notebookBounds.conversationFigureBytes));
        await store.notebook.recordCell(notebookCell(key, turnId, "plot()", cellResult({ figures: [figure, { ...figure, name: "figure-2.png" }] }), [png, png], notebookBounds.conversationFigureBytes));
        await store.notebook.recordAnswer(turnId, notebookAnswer("It rose.", null));
        assert.equal(await store.notebook.figureBytes(key), png.length * 2);

        const second = await store.startTurn({ conversationKey: key, user: grace, text: "Again" });
        await store.notebook.recordTurn(second, []);
        const turns = await store.notebook.loadNotebook(key);
        assert.deepEqual(turns?.map((turn) => turn.text), ["Plot it", "Again"]);
        const [turn] = turns!;
        assert.deepEqual([turn!.text, turn!.user, turn!.attachments, turn!.answer], ["Plot it", ada, [{ name: "a.csv", bytes: 4 }], "It rose."], "recording a turn again keeps the first record");
        assert.deepEqual(turn!.cells.map((cell) => [cell.code, cell.stdout, cell.figures.map((each) => [each.name, each.png.equals(png)])]), [
          ["print(1)", "1\n", []],
          ["plot()", "", [["figure-1.png", true], ["figure-2.png", true]]],
        ]);
        assert.equal(turns?.[1]?.answer, null);

        await store.resetConversation(key);
        assert.deepEqual(await store.notebook.loadNotebook(key), [], "the conversation is known, its notebook starts afresh");
        assert.equal(await store.notebook.figureBytes(key), 0);
        await assert.rejects(store.notebook.recordTurn("no-such-turn", []), StoreError);
      });
    });

    describe("skills", () => {
      test("versions are numbered per scope and name, keep their files, are decided once, and are removed together", async (t) => {
        const store = await openForTest(t, await fixture.fresh(), { clock: () => 8_000 });
        const files = [{ path: "SKILL.md", data: Buffer.from("---\nname: tidy\n---\n") }, { path: "scripts/tidy.py", data: Buffer.from("def tidy(): pass\n") }];
        const base = { scope: "slack:T1", name: "tidy", description: "Tidies", stems: ["tidy"], files, proposedBy: "slack:U1", conversationKey };
        const first = await store.skills.addSkillVersion({ ...base, status: "proposed" });
        const second = await store.skills.addSkillVersion({ ...base, status: "approved" });
        const global = await store.skills.addSkillVersion({ ...base, scope: "global", status: "proposed", conversationKey: null });
        assert.deepEqual([first.version, second.version, global.version], [1, 2, 1]);
        assert.deepEqual([second.status, second.decidedBy, second.decidedAt], ["approved", "slack:U1", 8_000]);
        assert.deepEqual(first.stems, ["tidy"]);
        assert.deepEqual((await store.skills.skillFiles(first.id)).map((file) => [file.path, file.data.toString()]), files.map((file) => [file.path, file.data.toString()]));

        assert.deepEqual((await store.skills.listSkills()).map((skill) => [skill.scope, skill.version]), [["global", 1], ["slack:T1", 1], ["slack:T1", 2]]);
        assert.deepEqual((await store.skills.listSkills({ scopes: ["slack:T1"], status: "proposed" })).map((skill) => skill.id), [first.id]);
        assert.deepEqual(await store.skills.listSkills({ scopes: [] }), []);

        const decided = await store.skills.decideSkill(first.id, "rejected", "slack:U9");
        assert.deepEqual([decided.status, decided.decidedBy], ["rejected", "slack:U9"]);
        await assert.rejects(store.skills.decideSkill(first.id, "approved", "slack:U9"), StoreError);
        assert.deepEqual(await store.skills.skill(first.id), decided);

        assert.equal(await store.skills.removeSkill("slack:T1", "tidy"), 2);
        assert.equal(await store.skills.skill(first.id), null);
        assert.deepEqual(await store.skills.skillFiles(first.id), []);
        assert.equal((await store.skills.listSkills()).length, 1);
      });

      test("versions stored at once by several processes are numbered without a gap or a clash", async (t) => {
        const place = await fixture.fresh();
        const stores = await Promise.all([1, 2, 3].map(() => openForTest(t, place, { recoverInterruptedTurns: false })));
        const base = { scope: "global", name: "race", description: "d", stems: [], files: [], proposedBy: "cli:me", conversationKey: null, status: "proposed" as const };
        const stored = await Promise.all(stores.flatMap((store) => [1, 2, 3, 4].map(() => store.skills.addSkillVersion(base))));
        assert.deepEqual(stored.map((skill) => skill.version).sort((a, b) => a - b), Array.from({ length: 12 }, (_, index) => index + 1));
      });
    });

    describe("failures", () => {
      test("a write sent without being awaited is done once close resolves, as a turn marked failed the moment the process stops", async () => {
        const place = await fixture.fresh();
        const store = await fixture.open(place);
        const turnId = await store.startTurn({ conversationKey, user: ada, text: "long" });
        void store.finishTurn(turnId, { status: "failed", limit: null, error: "stopping" });
        await store.close();
        const reopened = await fixture.open(place, { recoverInterruptedTurns: false });
        try {
          assert.equal((await reopened.getTurn(turnId))?.error, "stopping");
        } finally {
          await reopened.close();
        }
      });

      test("a closed store throws StoreErrors, and closing twice is harmless", async () => {
        const store = await fixture.open(await fixture.fresh());
        await store.ping();
        await store.close();
        await store.close();
        await assert.rejects(store.claimEvent("x"), (error: unknown) => error instanceof StoreError && /could not claim an event/.test(error.message));
        await assert.rejects(store.ping(), StoreError);
      });

      test("a cell run of an unknown conversation is refused with a StoreError", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        const turnId = await store.startTurn({ conversationKey, user: ada, text: "q" });
        await assert.rejects(
          store.recordCellRun({ conversationKey: "never-seen", turnId, user: "slack:U1", workspace: "T1", startedAt: 1, code: "1", outcome: "ok", durationMs: 1, error: null }),
          (error: unknown) => error instanceof StoreError && /could not record a cell run/.test(error.message),
        );
      });
    });

    describe("conversation leases", () => {
      test("one holder at a time: taken when free, refused while another's is live, renewed and released only by its holder, taken over once expired", async (t) => {
        const place = await fixture.fresh();
        let now = 1_000;
        const clock = () => now;
        const first = await openForTest(t, place, { clock });
        const second = await openForTest(t, place, { clock, recoverInterruptedTurns: false });
        assert.notEqual(first.leases.holder, second.leases.holder);

        assert.equal(await first.leases.acquire(conversationKey, 1_000), true);
        assert.equal(await first.leases.acquire(conversationKey, 1_000), true, "its holder takes it again");
        assert.equal(await second.leases.acquire(conversationKey, 1_000), false);
        assert.equal(await second.leases.acquire("discord:G1:C1:T1", 1_000), true, "another conversation's lease is its own");
        assert.equal(await second.leases.renew(conversationKey, 1_000), false, "only its holder renews it");
        await second.leases.release(conversationKey);
        assert.equal(await second.leases.acquire(conversationKey, 1_000), false, "only its holder releases it");

        now = 1_900;
        assert.equal(await first.leases.renew(conversationKey, 1_000), true);
        now = 2_800;
        assert.equal(await second.leases.acquire(conversationKey, 1_000), false, "renewed: live until 2 900");
        now = 2_900;
        assert.equal(await second.leases.acquire(conversationKey, 1_000), true, "expired: taken over");
        assert.equal(await first.leases.renew(conversationKey, 1_000), false, "the old holder learns it lost it");
        assert.equal(await first.leases.acquire(conversationKey, 1_000), false);

        await second.leases.release(conversationKey);
        assert.equal(await first.leases.acquire(conversationKey, 1_000), true, "released: free at once");
      });

      test("of many holders racing for a free lease, exactly one wins", async (t) => {
        const place = await fixture.fresh();
        const stores = await Promise.all([1, 2, 3, 4].map(() => openForTest(t, place, { recoverInterruptedTurns: false })));
        const won = await Promise.all(stores.map((store) => store.leases.acquire(conversationKey, 60_000)));
        assert.equal(won.filter(Boolean).length, 1);
      });

      test("a user's turns running under another holder are counted; its own and finished ones are not", async (t) => {
        const place = await fixture.fresh();
        const first = await openForTest(t, place);
        const second = await openForTest(t, place, { recoverInterruptedTurns: false });
        await first.startTurn({ conversationKey, user: ada, text: "one" });
        const finished = await first.startTurn({ conversationKey, user: ada, text: "two" });
        await first.finishTurn(finished, { status: "answered", limit: null, error: null });
        await first.startTurn({ conversationKey, user: grace, text: "someone else" });
        await second.startTurn({ conversationKey: "discord:G1:C1:T1", user: ada, text: "three" });
        assert.equal(await second.userTurnsRunningElsewhere("slack", "U1"), 1);
        assert.equal(await first.userTurnsRunningElsewhere("slack", "U1"), 1);
        assert.equal(await first.userTurnsRunningElsewhere("slack", "U2"), 0);
      });

      if (fixture.sharedByReplicas) {
        test("a replica opening, and looking again later, fails only the turns whose holder's lease expired, and tells about each once", async (t) => {
          const place = await fixture.fresh();
          let now = 1_000;
          const clock = () => now;
          const live = await openForTest(t, place, { clock });
          const dead = await fixture.open(place, { clock, recoverInterruptedTurns: false });
          assert.equal(await live.leases.acquire(conversationKey, 10_000), true);
          const liveTurn = await live.startTurn({ conversationKey, user: ada, text: "live" });
          assert.equal(await dead.leases.acquire("slack:T1:C2:1", 5_000), true);
          const deadTurn = await dead.startTurn({ conversationKey: "slack:T1:C2:1", user: grace, text: "dead" });
          await dead.close();

          const opened = await openForTest(t, place, { clock });
          const other = await openForTest(t, place, { clock });
          assert.equal((await opened.getTurn(deadTurn))?.status, "running", "its lease is still live");
          assert.deepEqual(await opened.takeInterruptedTurns("slack"), []);

          now = 6_000;
          const [taken, alsoLooking] = await Promise.all([opened.takeInterruptedTurns("slack"), other.takeInterruptedTurns("slack")]);
          assert.deepEqual([...taken, ...alsoLooking].map((turn) => [turn.id, turn.status, turn.finishedAt, turn.error]), [[deadTurn, "failed", 6_000, "interrupted by a restart"]], "failed and told about once");
          assert.equal((await opened.getTurn(liveTurn))?.status, "running", "a live replica's turn is never touched");
          assert.deepEqual(await opened.takeInterruptedTurns("slack"), []);
          assert.equal(await opened.leases.acquire("slack:T1:C2:1", 5_000), true, "the dead replica's conversation goes on");

          now = 11_000;
          assert.equal(await live.leases.renew(conversationKey, 10_000), true, "a replica that renews in time keeps its lease");
          assert.deepEqual(await other.takeInterruptedTurns("slack"), []);
        });
      } else {
        test("the one bot opening the database fails every turn left running and frees every lease", async () => {
          const place = await fixture.fresh();
          const crashed = await fixture.open(place);
          assert.equal(await crashed.leases.acquire(conversationKey, 60_000), true);
          const turn = await crashed.startTurn({ conversationKey, user: ada, text: "long" });
          await crashed.close();
          const restarted = await fixture.open(place);
          try {
            assert.equal((await restarted.getTurn(turn))?.status, "failed");
            assert.equal(await restarted.leases.acquire(conversationKey, 60_000), true);
          } finally {
            await restarted.close();
          }
        });
      }
    });

    describe("text", () => {
      test("a NUL character in a cell's code, output or a question is stored without failing", async (t) => {
        const store = await openForTest(t, await fixture.fresh());
        const turnId = await store.startTurn({ conversationKey, user: ada, text: "a\u0000b" });
        await store.recordCellRun({ conversationKey, turnId, user: "slack:U1", workspace: "T1", startedAt: 1, code: "print('\u0000')", outcome: "error", durationMs: 1, error: "x\u0000y" });
        await store.appendTranscript(conversationKey, turnId, [{ type: "result", callId: "c", output: "\u0000" }]);
        const [run] = await store.listCellRuns({ conversationKey });
        // SQLite keeps the NUL; Postgres text cannot hold one and keeps U+FFFD in its place.
        const plain = (text: string | null | undefined) => text?.replace(/[\u0000\uFFFD]/g, "");
        assert.deepEqual([plain((await store.getTurn(turnId))?.text), plain(run?.code), plain(run?.error)], ["ab", "print('')", "xy"]);
        assert.deepEqual(await store.loadTranscript(conversationKey), [{ type: "result", callId: "c", output: "\u0000" }], "JSON keeps it escaped");
      });
    });

    describe("several store instances on one database", () => {
      test("both read and write what the other wrote", async (t) => {
        const place = await fixture.fresh();
        const first = await openForTest(t, place);
        const second = await openForTest(t, place, { recoverInterruptedTurns: false });
        const firstTurn = await first.startTurn({ conversationKey, user: ada, text: "one" });
        const secondTurn = await second.startTurn({ conversationKey, user: grace, text: "two" });
        await first.appendTranscript(conversationKey, firstTurn, [{ type: "user", text: "one" }]);
        await second.appendTranscript(conversationKey, secondTurn, [{ type: "user", text: "two" }]);
        await first.bindSession(conversationKey, "session-1");

        assert.equal(await first.claimEvent("slack:Ev1"), true);
        assert.equal(await second.claimEvent("slack:Ev1"), false);
        assert.deepEqual(await second.loadTranscript(conversationKey), [{ type: "user", text: "one" }, { type: "user", text: "two" }]);
        assert.equal((await second.getConversation(conversationKey))?.sessionId, "session-1");
        assert.deepEqual((await first.getTurn(secondTurn))?.user, grace);
      });

      test("opened at once on a fresh database, they migrate it once, claim each event once and keep every transcript item in order", async (t) => {
        const place = await fixture.fresh();
        const writers = 4;
        const events = 40;
        const stores = await Promise.all(Array.from({ length: writers }, () => openForTest(t, place, { recoverInterruptedTurns: false })));
        const claimed = await Promise.all(stores.map(async (store, writer) => {
          const turnId = await store.startTurn({ conversationKey, user: { platform: "test", id: `w${writer}`, workspace: null, displayName: null }, text: "race" });
          let count = 0;
          for (let index = 0; index < events; index += 1) {
            if (await store.claimEvent(`event-${index}`)) count += 1;
            await store.appendTranscript(conversationKey, turnId, [{ type: "assistant", text: `w${writer}:${index}` }]);
          }
          return count;
        }));
        assert.equal(claimed.reduce((sum, count) => sum + count, 0), events, "every event claimed exactly once");
        const texts = (await stores[0]!.loadTranscript(conversationKey)).map((item) => (item.type === "assistant" ? item.text : ""));
        assert.equal(texts.length, writers * events);
        for (let writer = 0; writer < writers; writer += 1) {
          assert.deepEqual(texts.filter((text) => text.startsWith(`w${writer}:`)), Array.from({ length: events }, (_, index) => `w${writer}:${index}`));
        }
        assert.equal(await fixture.rowCount(place, "schema_migrations"), fixture.migrationCount, "each migration applied once");
      });
    });
  });
}
