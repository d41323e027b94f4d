/**
 * The Discord adapter end to end: the real discord.js client against the
 * Discord emulator (REST and gateway on 127.0.0.1), a real Agent, a real
 * Docker sandbox, a real SQLite store and the scripted OpenAI emulator.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { componentsV2Flag, textDisplays, user, type ApiMessage, type RecordedCall } from "./emulators/discord-server.ts";
import { codeStep, textStep } from "./emulators/openai-server.ts";
import { discordHarness, type DiscordHarness } from "./support/discord-harness.ts";
import { userTexts } from "./support/recorded-requests.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const instance = testInstance();
let sandbox: DockerSandbox;
let dataRoot: string;
const ada = user("100000000000000001", "Ada");

before(async () => {
  dataRoot = mkdtempSync(join(tmpdir(), "threadbook-discord-"));
  sandbox = await startTestSandbox({ instance, cellTimeoutMs: 30_000, poolSize: 2 });
});

after(async () => {
  await sandbox?.close();
  await removeInstance(instance);
  rmSync(dataRoot, { recursive: true, force: true });
});

const csv = Buffer.from("city,orders\nOslo,12\nLima,30\nPune,18\n");
const plotCode = [
  "import pandas as pd, matplotlib.pyplot as plt",
  "frame = pd.read_csv('orders.csv')",
  "print(frame['orders'].sum())",
  "frame.plot.bar(x='city', y='orders')",
].join("\n");

function stringOption(name: string, value: string) {
  return { name, type: 3, value };
}

/** Every text display of a message, joined. */
function textOf(message: ApiMessage): string {
  return textDisplays(message.components).join("\n");
}

/** The bot's V2 messages in a channel (the status, then the answer in its place, then any continuation). */
function botMessages(h: DiscordHarness, channelId: string): ApiMessage[] {
  return h.discord.messagesIn(channelId).filter((message) => message.author.id === h.discord.bot.id && (message.flags & componentsV2Flag) !== 0);
}

const isCallback = (token: string) => (call: RecordedCall) => call.path.endsWith(`/${token}/callback`);

describe("/ask", () => {
  test("with a CSV opens a thread named after the question, with the code, the output and the PNG", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    h.model.script([codeStep(plotCode), textStep("Lima has the most orders: 30 of 60.")]);
    const file = h.discord.attachment("orders.csv", csv, "text/csv");
    const question = "Which city has the most orders? Plot them by city please";
    const { token } = h.discord.command({ name: "ask", user: ada, options: [stringOption("question", question), { name: "file", type: 11, value: file.id }], attachments: [file] });
    await h.discord.waitFor(isCallback(token));
    await h.adapter.idle();

    const threads = h.discord.threads();
    assert.equal(threads.length, 1);
    assert.equal(threads[0]!.name, question);
    const messages = botMessages(h, threads[0]!.id);
    assert.equal(messages.length, 1, "the answer replaced the status message");
    const text = textOf(messages[0]!);
    assert.match(text, /Lima has the most orders/);
    assert.ok(text.includes("```python\nimport pandas as pd"), text);
    assert.match(text, /```\n60\n/);
    const attachments = messages[0]!.attachments;
    assert.equal(attachments.length, 1);
    assert.match(attachments[0]!.filename, /\.png$/);
    const gallery = JSON.stringify(messages[0]!.components);
    assert.ok(gallery.includes(`"type":12`) && gallery.includes(`attachment://${attachments[0]!.filename}`), gallery);
    assert.ok(gallery.includes('"accent_color":3908957'), "the done colour");
    assert.ok(!gallery.includes("threadbook:stop"), "no Stop button on the answer");
    // The user's file reached the session and the question reached the model.
    assert.match(userTexts(h.model.requests[0]!).join("\n"), /orders\.csv/);
    // The channel's original response points at the thread.
    const edit = h.discord.interactionCalls(token).find((call) => call.method === "PATCH");
    assert.match(edit?.body.content ?? "", new RegExp(`<#${threads[0]!.id}>`));
  });
});
