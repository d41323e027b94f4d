import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { StoreError } from "../src/errors.ts";
import { conversationDirectory } from "../src/store/attachment-files.ts";
import { latestSchemaVersion, migrations } from "../src/store/migrations.ts";
import { databaseFileName, openSqliteStore, type SqliteStore } from "../src/store/sqlite-store.ts";
import type { UserRecord } from "../src/store/store.ts";
import type { TranscriptItem } from "../src/core/model/model-client.ts";
import { RetentionSweeper } from "../src/core/retention.ts";
import { silentLogger } from "../src/log.ts";

const storeModuleUrl = new URL("../src/store/sqlite-store.ts", import.meta.url).href;
const conversationKey = "slack:T1:C1:1700000000.000100";
const ada: UserRecord = { platform: "slack", id: "U1", workspace: "T1", displayName: "Ada" };

let root: string;
let directoryCount = 0;

before(() => {
  root = mkdtempSync(join(tmpdir(), "threadbook-store-"));
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

function freshDataDir(): string {
  directoryCount += 1;
  return join(root, `data-${directoryCount}`);
}

/** Opens a store and closes it when the test ends, even if it fails. */
function openForTest(t: { after: (fn: () => void) => void }, dataDir: string, options?: Parameters<typeof openSqliteStore>[1]): SqliteStore {
  const store = openSqliteStore(dataDir, options);
  t.after(() => store.close());
  return store;
}

/** Reads the database directly, to check what the store wrote and not only what it reads back. */
function inspect<T>(dataDir: string, work: (database: DatabaseSync) => T): T {
  const database = new DatabaseSync(join(dataDir, databaseFileName));
  try {
    return work(database);
  } finally {
    database.close();
  }
}

describe("migrations", () => {
  test("are listed in strictly increasing versions", async () => {
    const versions = migrations.map((migration) => migration.version);
    assert.deepEqual(versions, [...versions].sort((a, b) => a - b));
    assert.equal(new Set(versions).size, versions.length);
    assert.equal(latestSchemaVersion, versions.at(-1));
  });

  test("are applied once, recorded, and not reapplied on reopen", async (t) => {
    const dataDir = freshDataDir();
    await openSqliteStore(dataDir).close();
    await openSqliteStore(dataDir).close();
    const store = openForTest(t, dataDir);
    await store.claimEvent("still works");

    const applied = inspect(dataDir, (database) =>
      database.prepare("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").all(),
    );
    assert.deepEqual(
      applied.map((row) => ({ version: row.version, name: row.name })),
      migrations.map((migration) => ({ version: migration.version, name: migration.name })),
    );
    for (const row of applied) assert.equal(typeof row.applied_at, "number");
  });

  test("open the database in WAL mode with foreign keys on", async (t) => {
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir);
    assert.equal(inspect(dataDir, (database) => database.prepare("PRAGMA journal_mode").get()?.journal_mode), "wal");
    const turnId = await store.startTurn({ conversationKey, user: ada, text: "q" });
    await assert.rejects(
      store.recordCellRun({ conversationKey: "never-seen", turnId, user: "slack:U1", workspace: "T1", startedAt: 1, code: "1", outcome: "ok", durationMs: 1, error: null }),
      (error: unknown) => error instanceof StoreError && /could not record a cell run/.test(error.message),
    );
  });

  test("a database from a newer threadbook is refused with a plain message", async () => {
    const dataDir = freshDataDir();
    await openSqliteStore(dataDir).close();
    const newer = latestSchemaVersion + 1;
    inspect(dataDir, (database) =>
      database.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', 0)").run(newer),
    );

    assert.throws(
      () => openSqliteStore(dataDir),
      (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.code, "store_failed");
        assert.match(error.message, new RegExp(`schema version ${newer}, but this threadbook knows only up to version ${latestSchemaVersion}`));
        assert.match(error.message, /Run a newer threadbook, or point THREADBOOK_DATA_DIR at another directory\./);
        return true;
      },
    );
  });
});

describe("what is written to the file", () => {
  test("image data is never saved", async (t) => {
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir);
    const turnId = await store.startTurn({ conversationKey, user: ada, text: "plot it" });
    const base64 = Buffer.from("a PNG, pretend").toString("base64");
    const result: TranscriptItem = { type: "result", callId: "call-1", output: "[figure 1: plot.png]", images: [{ mediaType: "image/png", base64 }] };
    await store.appendTranscript(conversationKey, turnId, [result]);

    assert.deepEqual(await store.loadTranscript(conversationKey), [{ type: "result", callId: "call-1", output: "[figure 1: plot.png]" }]);
    assert.equal(result.images?.length, 1, "the caller's item is left as it was");
    await store.close();
    for (const file of [databaseFileName, `${databaseFileName}-wal`]) {
      const path = join(dataDir, file);
      let bytes = "";
      try {
        bytes = readFileSync(path, "latin1");
      } catch {
        continue;
      }
      assert.ok(!bytes.includes(base64), `${file} holds no image data`);
    }
  });

});

describe("turns", () => {
  test("version 3 splits a version-2 database's \"platform:id\" users into the turn's user record", async (t) => {
    const dataDir = freshDataDir();
    mkdirSync(dataDir);
    // The schema as versions 1 and 2 left it (a released migration never changes), with rows an older threadbook wrote.
    inspect(dataDir, (database) => {
      database.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT");
      for (const migration of migrations.filter((each) => each.version <= 2)) {
        database.exec(migration.sql);
        database.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)").run(migration.version, migration.name);
      }
      database.prepare("INSERT INTO conversations (key, created_at, updated_at) VALUES (?, 1, 1)").run(conversationKey);
      const insertTurn = database.prepare("INSERT INTO turns (id, conversation_key, user, text, started_at, finished_at, status) VALUES (?, ?, ?, ?, ?, 2, 'answered')");
      insertTurn.run("turn-slack", conversationKey, "slack:U1", "from slack", 1);
      insertTurn.run("turn-cli", conversationKey, "cli:alice", "from the terminal", 1);
      insertTurn.run("turn-colon", conversationKey, "discord:U9:extra", "an id with a colon", 1);
      insertTurn.run("turn-bare", conversationKey, "someone", "no platform", 1);
      database
        .prepare("INSERT INTO cell_runs (conversation_key, turn_id, user, started_at, code, outcome, duration_ms) VALUES (?, 'turn-slack', 'slack:U1', 1, '1', 'ok', 1)")
        .run(conversationKey);
    });

    const store = openForTest(t, dataDir);
    const userOf = async (turnId: string) => (await store.getTurn(turnId))?.user;
    assert.deepEqual(await userOf("turn-slack"), { platform: "slack", id: "U1", workspace: null, displayName: null });
    assert.deepEqual(await userOf("turn-cli"), { platform: "cli", id: "alice", workspace: null, displayName: null });
    assert.deepEqual(await userOf("turn-colon"), { platform: "discord", id: "U9:extra", workspace: null, displayName: null });
    assert.deepEqual(await userOf("turn-bare"), { platform: "unknown", id: "someone", workspace: null, displayName: null });
    assert.equal((await store.getTurn("turn-slack"))?.text, "from slack");
    assert.equal((await store.userTurnsSince("slack", "U1", 0)).count, 1);
    assert.deepEqual((await store.listCellRuns()).map((run) => [run.turnId, run.user, run.workspace]), [["turn-slack", "slack:U1", null]]);

    const columns = inspect(dataDir, (database) => database.prepare("PRAGMA table_info(turns)").all().map((row) => row.name));
    assert.ok(!columns.includes("user"), "the old column is gone");
    const next = await store.startTurn({ conversationKey, user: ada, text: "after the upgrade" });
    assert.deepEqual((await store.getTurn(next))?.user, ada);
  });

  test("a turn a crashed process left running is failed when the store is opened to recover it", async () => {
    const dataDir = freshDataDir();
    // A process that starts a turn and is killed before it finishes it (its output written synchronously, as it gets no chance to flush).
    const script = `
      const { writeSync } = await import("node:fs");
      const { openSqliteStore } = await import(${JSON.stringify(storeModuleUrl)});
      const store = openSqliteStore(${JSON.stringify(dataDir)}, { clock: () => 1_000 });
      const user = ${JSON.stringify(ada)};
      const done = await store.startTurn({ conversationKey: ${JSON.stringify(conversationKey)}, user, text: "quick" });
      await store.finishTurn(done, { status: "answered", limit: null, error: null });
      const running = await store.startTurn({ conversationKey: ${JSON.stringify(conversationKey)}, user, text: "long job" });
      writeSync(1, JSON.stringify({ done, running }));
      process.kill(process.pid, "SIGKILL");`;
    const child = spawnSync(process.execPath, ["--input-type=module", "--no-warnings", "-e", script], { encoding: "utf8" });
    assert.equal(child.signal, "SIGKILL", child.stderr);
    const { done, running } = JSON.parse(child.stdout) as { done: string; running: string };

    const oneOff = openSqliteStore(dataDir, { clock: () => 5_000, recoverInterruptedTurns: false });
    try {
      assert.equal((await oneOff.getTurn(running))?.status, "running", "only a store opened to recover fails it");
    } finally {
      await oneOff.close();
    }

    const restarted = openSqliteStore(dataDir, { clock: () => 9_000, recoverInterruptedTurns: true });
    try {
      assert.deepEqual(await restarted.getTurn(running), {
        id: running, conversationKey, user: ada, text: "long job",
        startedAt: 1_000, finishedAt: 9_000, status: "failed", limit: null, error: "interrupted by a restart",
      });
      assert.equal((await restarted.getTurn(done))?.status, "answered");
      assert.equal((await restarted.getTurn(done))?.finishedAt, 1_000);
      // The platform's adapter takes the turns it must tell about, once; another platform has none.
      assert.deepEqual(await restarted.takeInterruptedTurns("discord"), []);
      assert.deepEqual((await restarted.takeInterruptedTurns(ada.platform)).map((turn) => [turn.id, turn.conversationKey, turn.text, turn.status]), [[running, conversationKey, "long job", "failed"]]);
      assert.deepEqual(await restarted.takeInterruptedTurns(ada.platform), []);
    } finally {
      await restarted.close();
    }
    const again = openSqliteStore(dataDir, { clock: () => 10_000, recoverInterruptedTurns: true });
    try {
      assert.deepEqual(await again.takeInterruptedTurns(ada.platform), [], "a turn is told about after one restart only");
    } finally {
      await again.close();
    }
  });

});

describe("failures", () => {
  test("a data dir that is a file gives a StoreError with a plain message", async () => {
    const file = join(root, `not-a-directory-${directoryCount += 1}`);
    writeFileSync(file, "");
    const dataDir = join(file, "data");
    assert.throws(
      () => openSqliteStore(dataDir),
      (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.message, `Cannot open the database at ${join(dataDir, databaseFileName)}: a part of the path is not a directory. Check THREADBOOK_DATA_DIR.`);
        return true;
      },
    );
  });

  test("a data dir that cannot be written gives a StoreError saying permission denied", async () => {
    // Root writes anywhere, so as root the store is opened by a child process running as nobody.
    const asRoot = process.getuid?.() === 0;
    const shared = mkdtempSync(join(tmpdir(), "threadbook-store-permissions-"));
    try {
      chmodSync(shared, 0o755);
      const readOnly = join(shared, "read-only");
      mkdirSync(readOnly, { mode: 0o555 });
      const locked = join(shared, "locked");
      mkdirSync(locked, { mode: 0o500 });

      for (const dataDir of [readOnly, join(locked, "data")]) {
        const script = `
          const { openSqliteStore } = await import(${JSON.stringify(storeModuleUrl)});
          try {
            await openSqliteStore(${JSON.stringify(dataDir)}).close();
            console.log(JSON.stringify({ opened: true }));
          } catch (error) {
            console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message }));
          }`;
        const child = spawnSync(process.execPath, ["--input-type=module", "--no-warnings", "-e", script], {
          encoding: "utf8",
          ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
        });
        assert.equal(child.status, 0, child.stderr);
        assert.deepEqual(JSON.parse(child.stdout), {
          name: "StoreError",
          code: "store_failed",
          message: `Cannot open the database at ${join(dataDir, databaseFileName)}: permission denied. Check THREADBOOK_DATA_DIR.`,
        });
      }
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  test("a file that is not a database gives a StoreError", async () => {
    const dataDir = freshDataDir();
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, databaseFileName), "this is not a database, just some text that is long enough ".repeat(20));
    assert.throws(
      () => openSqliteStore(dataDir),
      (error: unknown) => error instanceof StoreError && /: the file is not a SQLite database\. Check THREADBOOK_DATA_DIR\.$/.test(error.message),
    );
  });

});

describe("concurrency", () => {
  test("connections in parallel threads open a fresh file, claim each event once and keep every transcript item", async () => {
    const dataDir = freshDataDir();
    const workerCount = 4;
    const eventCount = 150;
    const source = `
      const { workerData, parentPort } = require("node:worker_threads");
      import(workerData.storeModuleUrl).then(async ({ openSqliteStore }) => {
        const store = openSqliteStore(workerData.dataDir, { recoverInterruptedTurns: false });
        const user = { platform: "test", id: workerData.name, workspace: null, displayName: null };
        const turnId = await store.startTurn({ conversationKey: workerData.conversationKey, user, text: "race" });
        let claimed = 0;
        for (let index = 0; index < workerData.eventCount; index += 1) {
          if (await store.claimEvent("event-" + index)) claimed += 1;
          await store.appendTranscript(workerData.conversationKey, turnId, [{ type: "assistant", text: workerData.name + ":" + index }]);
        }
        await store.close();
        parentPort.postMessage(claimed);
      });`;
    const claims = await Promise.all(
      Array.from({ length: workerCount }, (_, index) =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(source, {
            eval: true,
            workerData: { storeModuleUrl, dataDir, conversationKey, eventCount, name: `worker-${index}` },
          });
          worker.once("message", resolve);
          worker.once("error", reject);
          worker.once("exit", (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
        }),
      ),
    );

    assert.equal(claims.reduce((sum, count) => sum + count, 0), eventCount, "every event claimed exactly once");
    const store = openSqliteStore(dataDir);
    try {
      const texts = (await store.loadTranscript(conversationKey)).map((item) => (item.type === "assistant" ? item.text : ""));
      assert.equal(texts.length, workerCount * eventCount);
      for (let index = 0; index < workerCount; index += 1) {
        const own = texts.filter((text) => text.startsWith(`worker-${index}:`));
        assert.deepEqual(own, Array.from({ length: eventCount }, (_, event) => `worker-${index}:${event}`), "each writer's items keep their order");
      }
      const applied = inspect(dataDir, (database) => database.prepare("SELECT count(*) AS count FROM schema_migrations").get()?.count);
      assert.equal(applied, migrations.length, "concurrent first opens applied each migration once");
    } finally {
      await store.close();
    }
  });
});

describe("kept attachments", () => {
  const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
  const directoryOf = (key: string) => `attachments/${sha256(key).slice(0, 24)}`;

  test("version 2 adds the attachments table to a version-1 database, keeping its data", async (t) => {
    const dataDir = freshDataDir();
    mkdirSync(dataDir);
    inspect(dataDir, (database) => {
      const [first] = migrations;
      assert.ok(first);
      database.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT");
      database.exec(first.sql);
      database.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, ?, 0)").run(first.name);
      database.prepare("INSERT INTO conversations (key, created_at, updated_at, session_id) VALUES (?, 1, 1, 'session-1')").run(conversationKey);
    });

    const store = openForTest(t, dataDir);
    assert.equal((await store.getConversation(conversationKey))?.sessionId, "session-1");
    assert.deepEqual(await store.listAttachments(conversationKey), []);
    const { versions, columns } = inspect(dataDir, (database) => ({
      versions: database.prepare("SELECT version FROM schema_migrations ORDER BY version").all().map((row) => row.version),
      columns: database.prepare("PRAGMA table_info(attachments)").all().map((row) => [row.name, row.type, row.notnull]),
    }));
    assert.deepEqual(versions, migrations.map((migration) => migration.version));
    assert.deepEqual(columns, [
      ["id", "INTEGER", 0],
      ["conversation_key", "TEXT", 1],
      ["name", "TEXT", 1],
      ["bytes", "INTEGER", 1],
      ["sha256", "TEXT", 1],
      ["created_at", "INTEGER", 1],
      ["path", "TEXT", 1],
    ]);
  });

  test("are kept as private files under the data dir, a row each, listed oldest first and across reopen", async () => {
    const dataDir = freshDataDir();
    const csv = Buffer.from("region,amount\nnorth,10\nsouth,32\n");
    const first = openSqliteStore(dataDir, { clock: () => 4_000 });
    const record = await first.recordAttachment({ conversationKey, name: "sales.csv", data: csv });
    assert.equal((await first.getConversation(conversationKey))?.createdAt, 4_000, "recording creates the conversation");
    const directory = directoryOf(conversationKey);
    assert.equal(conversationDirectory(conversationKey), directory);
    assert.deepEqual(record, { id: record.id, conversationKey, name: "sales.csv", bytes: csv.length, sha256: sha256(csv), createdAt: 4_000, path: `${directory}/sales.csv` });

    const absolute = join(dataDir, record.path);
    assert.deepEqual(readFileSync(absolute), csv);
    assert.equal(statSync(absolute).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, directory)).mode & 0o777, 0o700);
    assert.equal(statSync(join(dataDir, "attachments")).mode & 0o777, 0o700);

    // The same name again (the earlier file was gone from the session) and a name with folders in it.
    const again = await first.recordAttachment({ conversationKey, name: "sales.csv", data: Buffer.from("newer") });
    const foldered = await first.recordAttachment({ conversationKey, name: "../../escape/notes.txt", data: Buffer.from("note") });
    const other = await first.recordAttachment({ conversationKey: "discord:G1:C1:T1", name: "sales.csv", data: Buffer.from("other") });
    assert.equal(again.name, "sales.csv");
    assert.equal(again.path, `${directory}/sales-2.csv`);
    assert.equal(foldered.path, `${directory}/notes.txt`);
    assert.equal(other.path, `${directoryOf("discord:G1:C1:T1")}/sales.csv`);
    assert.ok(record.id < again.id && again.id < foldered.id);
    await first.close();

    const second = openSqliteStore(dataDir);
    try {
      const kept = await second.listAttachments(conversationKey);
      assert.deepEqual(kept, [record, again, foldered]);
      assert.deepEqual(await second.readAttachment(record), csv);
      assert.equal((await second.readAttachment(again))?.toString(), "newer");
      assert.deepEqual(await second.listAttachments("discord:G1:C1:T1"), [other]);
      assert.deepEqual(await second.listAttachments("never-seen"), []);
    } finally {
      await second.close();
    }
  });

  test("a missing file reads as null, a changed one throws a StoreError", async (t) => {
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir);
    const missing = await store.recordAttachment({ conversationKey, name: "a.csv", data: Buffer.from("a") });
    const changed = await store.recordAttachment({ conversationKey, name: "b.csv", data: Buffer.from("b") });
    rmSync(join(dataDir, missing.path));
    writeFileSync(join(dataDir, changed.path), "tampered");

    assert.equal(await store.readAttachment(missing), null);
    await assert.rejects(store.readAttachment(changed), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.message, `The kept attachment at ${join(dataDir, changed.path)} has changed since it was attached.`);
      return true;
    });
  });

  test("a file that cannot be written gives a StoreError and leaves no row", async (t) => {
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir);
    writeFileSync(join(dataDir, "attachments"), "a file where the directory belongs");
    await assert.rejects(
      store.recordAttachment({ conversationKey, name: "a.csv", data: Buffer.from("a") }),
      (error: unknown) => error instanceof StoreError && error.message === `Could not keep an attachment in ${join(dataDir, directoryOf(conversationKey))}: a part of the path is not a directory.`,
    );
    assert.deepEqual(await store.listAttachments(conversationKey), []);
  });

  test("a row that cannot be written leaves no file", async (t) => {
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir);
    inspect(dataDir, (database) => database.exec("CREATE TRIGGER refuse BEFORE INSERT ON attachments BEGIN SELECT RAISE(ABORT, 'refused'); END"));
    await assert.rejects(
      store.recordAttachment({ conversationKey, name: "a.csv", data: Buffer.from("a") }),
      (error: unknown) => error instanceof StoreError && /could not record an attachment: refused/.test(error.message),
    );
    assert.deepEqual(readdirSync(join(dataDir, directoryOf(conversationKey))), []);
  });

  test("resetting a conversation drops its rows and files, and only its own", async (t) => {
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir);
    const turnId = await store.startTurn({ conversationKey, user: ada, text: "q" });
    await store.recordCellRun({ conversationKey, turnId, user: "slack:U1", workspace: "T1", startedAt: 1, code: "1", outcome: "ok", durationMs: 1, error: null });
    await store.recordAttachment({ conversationKey, name: "a.csv", data: Buffer.from("a") });
    await store.recordAttachment({ conversationKey, name: "b.csv", data: Buffer.from("b") });
    const other = await store.recordAttachment({ conversationKey: "discord:G1:C1:T1", name: "a.csv", data: Buffer.from("other") });

    await store.resetConversation(conversationKey);
    assert.deepEqual(await store.listAttachments(conversationKey), []);
    assert.equal(existsSync(join(dataDir, directoryOf(conversationKey))), false);
    assert.deepEqual(await store.listAttachments("discord:G1:C1:T1"), [other]);
    assert.equal((await store.readAttachment(other))?.toString(), "other");
    assert.equal((await store.listCellRuns({ conversationKey })).length, 1, "the audit log survives a reset");

    await store.resetConversation(conversationKey);
    const next = await store.recordAttachment({ conversationKey, name: "a.csv", data: Buffer.from("again") });
    assert.equal(next.path, `${directoryOf(conversationKey)}/a.csv`);
  });
});

describe("retention", () => {
  test("kept attachments older than the given age lose their rows and files; newer ones stay readable", async (t) => {
    let now = 10_000;
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir, { clock: () => now });
    const old = await store.recordAttachment({ conversationKey, name: "old.csv", data: Buffer.from("a,b\n1,2\n") });
    now = 20_000;
    const recent = await store.recordAttachment({ conversationKey, name: "recent.csv", data: Buffer.from("c\n3\n") });
    now = 25_000;
    assert.equal(await store.pruneAttachments(10_000), 1);
    assert.equal(await store.pruneAttachments(10_000), 0);
    assert.equal(existsSync(join(dataDir, old.path)), false, "the old file is gone");
    assert.deepEqual((await store.listAttachments(conversationKey)).map((attachment) => attachment.name), ["recent.csv"]);
    assert.equal((await store.readAttachment(recent))?.toString(), "c\n3\n");
  });

  test("transcripts of turns older than the given age are dropped and their questions blanked; the turn rows, newer items and feedback stay", async (t) => {
    let now = 10_000;
    const store = openForTest(t, freshDataDir(), { clock: () => now });
    const oldTurn = await store.startTurn({ conversationKey, user: ada, text: "the old private question" });
    await store.appendTranscript(conversationKey, oldTurn, [{ type: "user", text: "the old private question" }, { type: "assistant", text: "old answer" }]);
    await store.finishTurn(oldTurn, { status: "answered", limit: null, error: null });
    now = 20_000;
    const newTurn = await store.startTurn({ conversationKey, user: ada, text: "new question" });
    await store.appendTranscript(conversationKey, newTurn, [{ type: "user", text: "new question" }]);
    now = 25_000;
    assert.equal(await store.pruneTranscripts(10_000), 2);
    assert.equal(await store.pruneTranscripts(10_000), 0);
    assert.deepEqual(await store.loadTranscript(conversationKey), [{ type: "user", text: "new question" }]);
    const kept = await store.getTurn(oldTurn);
    assert.equal(kept?.text, "", "the question is blanked");
    assert.equal(kept?.status, "answered", "the turn row stays");
    assert.equal((await store.getTurn(newTurn))?.text, "new question");
    assert.equal((await store.userTurnsSince("slack", "U1", 0)).count, 2, "turns still count");
    await store.recordFeedback({ turnId: oldTurn, user: ada, rating: "positive" });
    await store.appendTranscript(conversationKey, newTurn, [{ type: "assistant", text: "after pruning" }]);
    assert.equal((await store.loadTranscript(conversationKey)).length, 2, "the conversation goes on");
  });

  test("the audit log's cell runs older than the given age are removed; newer ones stay", async (t) => {
    let now = 10_000;
    const store = openForTest(t, freshDataDir(), { clock: () => now });
    const turnId = await store.startTurn({ conversationKey, user: ada, text: "q" });
    for (const startedAt of [5_000, 9_999, 15_000, 20_000]) {
      await store.recordCellRun({ conversationKey, turnId, user: "slack:U1", workspace: "T1", startedAt, code: `x = ${startedAt}`, outcome: "ok", durationMs: 1, error: null });
    }
    now = 25_000;
    assert.equal(await store.pruneCellRuns(10_000), 2);
    assert.deepEqual((await store.listCellRuns()).map((run) => run.code), ["x = 15000", "x = 20000"], "one exactly at the cutoff stays");
  });

  test("a sweep prunes event claims after their retry window and each kind after its setting; 0 keeps a kind for ever", async (t) => {
    const day = 24 * 60 * 60 * 1000;
    let now = 0;
    const dataDir = freshDataDir();
    const store = openForTest(t, dataDir, { clock: () => now });
    await store.claimEvent("slack:T1:C1:1.1");
    await store.recordAttachment({ conversationKey, name: "a.csv", data: Buffer.from("1") });
    const turnId = await store.startTurn({ conversationKey, user: ada, text: "q" });
    await store.appendTranscript(conversationKey, turnId, [{ type: "user", text: "q" }]);
    await store.recordCellRun({ conversationKey, turnId, user: "slack:U1", workspace: "T1", startedAt: 0, code: "1", outcome: "ok", durationMs: 1, error: null });
    now = 2 * day;
    const keepAll = new RetentionSweeper(store, { attachmentsMs: 0, transcriptsMs: 0, auditMs: 0 }, silentLogger);
    assert.deepEqual(await keepAll.sweep(), { events: 1, attachments: 0, transcriptItems: 0, cellRuns: 0 });
    assert.equal(await store.claimEvent("slack:T1:C1:1.1"), true, "past its retry window the key is forgotten");
    now = 4 * day;
    const days = new RetentionSweeper(store, { attachmentsMs: day, transcriptsMs: day, auditMs: 3 * day }, silentLogger);
    assert.deepEqual(await days.sweep(), { events: 1, attachments: 1, transcriptItems: 1, cellRuns: 1 });
    assert.deepEqual(await store.listAttachments(conversationKey), []);
  });
});
