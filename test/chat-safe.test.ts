/** What a chat message may say of the bot's machine: addresses, host names and paths are withheld, the rest is kept. */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { test } from "node:test";
import { withholdHosts, withoutMachineDetails } from "../src/adapters/chat-safe.ts";

test("addresses, host names and paths of the bot's side are withheld; API paths, settings and ordinary words stay", () => {
  const cases: [string, string][] = [
    ["Could not reach the model service at 10.2.3.4:11434. Check OPENAI_BASE_URL and the network.", "Could not reach the model service at (an address on threadbook's side). Check OPENAI_BASE_URL and the network."],
    ["Could not reach the model service at llm.corp.internal:8000.", "Could not reach the model service at (an address on threadbook's side)."],
    ["at localhost:4000 and [::1]:8080", "at (an address on threadbook's side) and (an address on threadbook's side)"],
    ["see http://vllm.internal/v1/chat", "see (an address on threadbook's side)"],
    ["The database at /var/lib/threadbook/data/threadbook.db could not be read.", "The database at (a path on threadbook's machine) could not be read."],
    ["The model service has no /chat/completions endpoint (404).", "The model service has no /chat/completions endpoint (404)."],
    ["It is 12:30; read data.csv and 3.5 MB.", "It is 12:30; read data.csv and 3.5 MB."],
  ];
  for (const [given, shown] of cases) assert.equal(withoutMachineDetails(given), shown);
  assert.equal(withoutMachineDetails("llm-box answered", ["llm-box"]), "(an address on threadbook's side) answered");
  if (hostname().length >= 3) assert.doesNotMatch(withoutMachineDetails(`docker on ${hostname()} failed`), new RegExp(hostname().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
});

test("a host the settings name is withheld as a word, with no port to give it away", () => {
  withholdHosts(["llm.internal"]);
  try {
    assert.equal(withoutMachineDetails("Could not reach the model service at llm.internal. Check OPENAI_BASE_URL."), "Could not reach the model service at (an address on threadbook's side). Check OPENAI_BASE_URL.");
    assert.equal(withoutMachineDetails("llm.internals of pandas"), "llm.internals of pandas", "only the whole name");
  } finally {
    withholdHosts([]);
  }
});
