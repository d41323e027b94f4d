/**
 * The core's downloads of files users gave: bounded at once across the bot,
 * streamed through the data directory, cut at the file-size limit. Real
 * files on disk; the platform's side is a body the test feeds.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FileDownloads } from "../src/core/file-downloads.ts";
import type { IncomingFile } from "../src/core/turn.ts";
import { ThreadbookError } from "../src/errors.ts";
import { until } from "./support/until.ts";

/** A download whose bytes arrive when the test says, recording how many are open at once. */
class HeldDownloads {
  open = 0;
  mostAtOnce = 0;
  opened = 0;
  readonly #finishers: (() => void)[] = [];

  file(name: string, bytes: Buffer): IncomingFile {
    return {
      name, bytes: bytes.length,
      open: async () => {
        this.opened += 1;
        this.open += 1;
        this.mostAtOnce = Math.max(this.mostAtOnce, this.open);
        const finished = new Promise<void>((resolve) => this.#finishers.push(resolve));
        const self = this;
        async function* body() {
          yield bytes.subarray(0, 1);
          await finished;
          yield bytes.subarray(1);
          self.open -= 1;
        }
        return { body: body(), statedBytes: bytes.length };
      },
    };
  }

  /** Lets the oldest held download finish. */
  finishOne(): boolean {
    const finish = this.#finishers.shift();
    finish?.();
    return finish !== undefined;
  }
}

function directory(t: { after: (fn: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), "threadbook-downloads-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return join(root, "incoming");
}

describe("file downloads", () => {
  test("at most maxAtOnce download at once across turns; the rest wait their turn and all arrive whole", async (t) => {
    const downloads = new FileDownloads({ directory: directory(t), maxBytes: 1024, maxAtOnce: 2 });
    const held = new HeldDownloads();
    const turns = [0, 1, 2].map((turn) => downloads.fetch([0, 1].map((index) => held.file(`t${turn}-${index}.csv`, Buffer.from(`turn ${turn} file ${index}`))), new AbortController().signal));
    await until(() => held.opened === 2, "two downloads are open");
    while (held.opened < 6 || held.open > 0) {
      await until(() => held.finishOne() || held.opened === 6 && held.open === 0, "a download to finish");
    }
    const fetched = await Promise.all(turns);
    assert.equal(held.mostAtOnce, 2);
    assert.deepEqual(fetched.map((files) => files.map((file) => file.data.toString())), [0, 1, 2].map((turn) => [`turn ${turn} file 0`, `turn ${turn} file 1`]));
    assert.equal(downloads.running, 0);
  });

  test("a file stated over the limit is not opened; one whose bytes run over it is cut off and leaves no file behind", async (t) => {
    const where = directory(t);
    const downloads = new FileDownloads({ directory: where, maxBytes: 1000, maxAtOnce: 2 });
    let opened = 0;
    const stated: IncomingFile = { name: "big.csv", bytes: 1001, open: async () => { opened += 1; throw new Error("must not open"); } };
    await assert.rejects(downloads.fetch([stated], new AbortController().signal), (error: unknown) => error instanceof ThreadbookError && /big\.csv is larger than the 1\.0 kB/.test(error.message));
    assert.equal(opened, 0);
    let yielded = 0;
    const sly: IncomingFile = {
      name: "sly.csv", bytes: 10,
      open: async () => ({
        statedBytes: null,
        body: (async function* () {
          for (;;) {
            yielded += 1;
            yield Buffer.alloc(300);
          }
        })(),
      }),
    };
    await assert.rejects(downloads.fetch([sly], new AbortController().signal), (error: unknown) => error instanceof ThreadbookError && /sly\.csv is larger/.test(error.message));
    assert.equal(yielded, 4, "reading stops at the chunk that passes the limit");
    assert.deepEqual(readdirSync(where), []);
    assert.equal(downloads.running, 0);
  });

  test("a stop while waiting for a download slot rejects with its reason and frees nothing it did not hold", async (t) => {
    const downloads = new FileDownloads({ directory: directory(t), maxBytes: 1024, maxAtOnce: 1 });
    const held = new HeldDownloads();
    const first = downloads.fetch([held.file("a.csv", Buffer.from("ab"))], new AbortController().signal);
    await until(() => held.opened === 1, "the first download is open");
    const stop = new AbortController();
    const second = downloads.fetch([held.file("b.csv", Buffer.from("cd"))], stop.signal);
    stop.abort(new Error("stopped"));
    await assert.rejects(second, /stopped/);
    held.finishOne();
    assert.equal((await first)[0]?.data.toString(), "ab");
    assert.equal(held.opened, 1);
    assert.equal(downloads.running, 0);
  });
});
