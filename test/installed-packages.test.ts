/** The note a lost session's next turn carries: which packages its earlier cells installed. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { installedPackages, installedPackagesNote } from "../src/core/installed-packages.ts";
import type { TranscriptItem } from "../src/core/model/model-client.ts";

test("the pip install lines of the model's earlier cells name the packages, options and their values left out", () => {
  const transcript: TranscriptItem[] = [
    { type: "user", text: "%pip install not-from-code" },
    { type: "code", callId: "1", code: "%pip install requests 'x'\nimport requests" },
    { type: "code", callId: "2", code: "if True:\n    !pip install -q --index-url https://example.org/simple polars==1.0 requests\n!python3 -m pip install -r reqs.txt tqdm\n!pip list" },
    { type: "code", callId: "3", code: "print('%pip install nothing')" },
  ];
  assert.deepEqual(installedPackages(transcript), ["requests", "polars==1.0", "tqdm"]);
  assert.equal(installedPackagesNote(transcript), "Packages installed earlier in this conversation are gone with the session: requests, polars==1.0, tqdm. Run %pip install again for those you need.");
  assert.equal(installedPackagesNote([{ type: "code", callId: "1", code: "import os" }]), "");
  const many: TranscriptItem[] = [{ type: "code", callId: "1", code: `%pip install ${Array.from({ length: 50 }, (_, index) => `p${index}`).join(" ")}` }];
  assert.equal(installedPackages(many).length, 20);
});
