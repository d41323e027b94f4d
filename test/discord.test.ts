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
import { registerCommands } from "../src/adapters/discord/commands.ts";
import { componentsV2Flag, DiscordEmulator, textDisplays, user, type ApiMessage, type RecordedCall } from "./emulators/discord-server.ts";
import { codeStep, errorStep, textStep } from "./emulators/openai-server.ts";
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

/** The typing indicator in the channel, sent after the first `mark` calls: the adapter took the event. */
const typingAfter = (h: DiscordHarness, mark: number, channelId: string) => (call: RecordedCall) =>
  h.discord.calls.indexOf(call) >= mark && call.method === "POST" && call.path === `/channels/${channelId}/typing`;

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

describe("turns", () => {
  test("the deferral goes out before the model is asked, and a follow-up message in the thread reuses the session", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    let modelAskedAt = 0;
    let followUpAskedAt = 0;
    h.model.script([
      () => { modelAskedAt = performance.now(); return codeStep("kept = 41"); }, textStep("Stored it."),
      () => { followUpAskedAt = performance.now(); return codeStep("kept + 1"); }, textStep("It is 42."),
    ]);
    const { token } = h.discord.command({ name: "ask", user: ada, options: [stringOption("question", "Store 41 as kept")] });
    const deferral = await h.discord.waitFor(isCallback(token));
    assert.equal(deferral.body.type, 5, "a deferred response");
    await h.adapter.idle();
    assert.ok(modelAskedAt > 0 && deferral.at < modelAskedAt, "deferred before the model was asked");
    const threadId = h.discord.threads()[0]!.id;
    const firstThreadCall = h.discord.calls.find((call) => call.path.startsWith("/channels/") && call.path.endsWith("/threads"))!;
    assert.ok(deferral.at < firstThreadCall.at, "deferred before the thread was opened");

    // A follow-up in the thread, without a mention.
    const mark = h.discord.calls.length;
    const followUp = h.discord.post({ author: ada, channelId: threadId, content: "Add one to it" });
    const typing = await h.discord.waitFor(typingAfter(h, mark, threadId));
    await h.adapter.idle();
    assert.ok(followUpAskedAt > 0 && typing.at < followUpAskedAt, "the typing indicator, the first sign of work, came before the model was asked");
    const messages = botMessages(h, threadId);
    assert.equal(messages.length, 2);
    assert.match(textOf(messages[1]!), /It is 42\./);
    assert.match(textOf(messages[1]!), /```\n42\n```/);
    assert.ok(followUp.id);
  });

  test("/stop stops the running cell and /reset drops the session", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    h.model.script([codeStep("kept = 7\nimport time\nprint('sleeping', flush=True)\ntime.sleep(25)"), codeStep("print('kept' in globals())"), textStep("Fresh.")]);
    const { token } = h.discord.command({ name: "ask", user: ada, options: [stringOption("question", "Sleep")] });
    await h.discord.waitFor(isCallback(token));
    // The status message is up once the cell runs.
    const status = await h.discord.waitFor((call) => call.method === "PATCH" && call.path.startsWith("/channels/") && JSON.stringify(call.body).includes("Cell 1: running"));
    const threadId = status.path.split("/")[2]!;
    const stop = h.discord.command({ name: "stop", user: ada, channelId: threadId });
    await h.discord.waitFor(isCallback(stop.token));
    await h.adapter.idle();
    const stopReply = h.discord.interactionCalls(stop.token)[0]!;
    assert.match(stopReply.body.data.content, /Ada stopped the running question/);
    const answer = botMessages(h, threadId).at(-1)!;
    assert.match(textOf(answer), /Stopped by Ada/);
    assert.ok(JSON.stringify(answer.components).includes('"accent_color":16426522'), "the stopped colour");

    const reset = h.discord.command({ name: "reset", user: ada, channelId: threadId });
    await h.discord.waitFor(isCallback(reset.token));
    await h.adapter.idle();
    assert.match(h.discord.interactionCalls(reset.token).find((call) => call.method === "PATCH")!.body.content, /reset this thread's session/);
    const mark = h.discord.calls.length;
    h.discord.post({ author: ada, channelId: threadId, content: "Is kept still there?" });
    await h.discord.waitFor(typingAfter(h, mark, threadId));
    await h.adapter.idle();
    assert.match(textOf(botMessages(h, threadId).at(-1)!), /False/);
  });
});

describe("replies", () => {
  test("a 6,000-character answer goes on in a second message, split at a line outside the code fence", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    const prose = Array.from({ length: 30 }, (_, index) => `Line ${index + 1}: ${"x".repeat(90)}`).join("\n");
    const fence = `\`\`\`\n${Array.from({ length: 30 }, (_, index) => `row ${index + 1} ${"y".repeat(60)}`).join("\n")}\n\`\`\``;
    const answer = `${prose}\n${fence}\n${"Closing words. ".repeat(50).trim()}`;
    assert.ok(answer.length > 5_000 && answer.length < 7_000, `answer of ${answer.length}`);
    h.model.script([textStep(answer)]);
    const { token } = h.discord.command({ name: "ask", user: ada, options: [stringOption("question", "Write a long answer")] });
    await h.discord.waitFor(isCallback(token));
    await h.adapter.idle();
    const messages = botMessages(h, h.discord.threads()[0]!.id);
    assert.equal(messages.length, 2);
    const texts = messages.map(textOf);
    for (const text of texts) {
      assert.ok(text.length <= 4_000, `${text.length} characters`);
      assert.equal((text.match(/```/g) ?? []).length % 2, 0, "every fence in a message is closed in it");
    }
    assert.equal(texts.join("\n"), answer, "nothing lost or repeated");
  });

  test("a cell's summary in the status message is plain text: its markdown escaped, its mentions broken", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    h.model.script([codeStep("'**bold** @everyone <#123456789012345678>'"), textStep("Said it.")]);
    const { token } = h.discord.command({ name: "ask", user: ada, options: [stringOption("question", "Say it")] });
    await h.discord.waitFor(isCallback(token));
    await h.adapter.idle();
    const threadId = h.discord.threads()[0]!.id;
    const versions = h.discord.calls
      .filter((call) => call.path.startsWith(`/channels/${threadId}/messages`) && JSON.stringify(call.body?.components ?? []).includes('"custom_id":"threadbook:stop"'))
      .map((call) => textDisplays(call.body.components).join("\n"));
    const finished = versions.find((text) => text.includes("✅ Cell 1:"));
    assert.ok(finished !== undefined, `the finished cell is shown:\n${versions.join("\n---\n")}`);
    assert.match(finished, /✅ Cell 1: = '\\\*\\\*bold\\\*\\\* @\u200beveryone <\u200b#123456789012345678>'/);
  });

  test("a file over the interaction's upload limit is named with its size and not sent", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot, { emulator: { uploadLimitBytes: 200_000 } });
    h.model.script([codeStep("open('big.bin', 'wb').write(b'0' * 300_000)\nopen('small.txt', 'w').write('ok')"), textStep("Wrote two files.")]);
    const { token } = h.discord.command({ name: "ask", user: ada, options: [stringOption("question", "Write files")] });
    await h.discord.waitFor(isCallback(token));
    await h.adapter.idle();
    const [answer] = botMessages(h, h.discord.threads()[0]!.id);
    assert.deepEqual(answer!.attachments.map((file) => file.filename), ["small.txt"]);
    assert.match(textOf(answer!), /`big\.bin` \(300\.0 kB\) is over Discord's upload limit here \(200\.0 kB\), so it is not sent\./);
  });
});

describe("places", () => {
  test("a mention in a channel starts a thread from the message, and a DM is answered in the DM", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    h.model.script([textStep("Hello from the thread."), textStep("Hello in the DM.")]);
    const asked = h.discord.post({ author: ada, channelId: h.discord.channelId, content: `<@${h.discord.bot.id}> say hello`, mentionBot: true });
    await h.discord.waitFor((call) => call.path === `/channels/${h.discord.channelId}/messages/${asked.id}/threads`);
    await h.adapter.idle();
    const thread = h.discord.channels.get(asked.id)!;
    assert.equal(thread.name, "say hello");
    assert.match(textOf(botMessages(h, asked.id)[0]!), /Hello from the thread\./);
    assert.match(userTexts(h.model.requests[0]!).join("\n"), /say hello/);
    assert.doesNotMatch(userTexts(h.model.requests[0]!).join("\n"), /<@/);

    const dm = h.discord.dm(ada);
    const mark = h.discord.calls.length;
    h.discord.post({ author: ada, channelId: dm.id, content: "hello there" });
    await h.discord.waitFor(typingAfter(h, mark, dm.id));
    await h.adapter.idle();
    assert.match(textOf(botMessages(h, dm.id)[0]!), /Hello in the DM\./);
    assert.equal(h.discord.threads().length, 1, "no thread for a DM");
  });

  test("Ask threadbook on a message with a CSV answers about its file in a new thread", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    const grace = user("100000000000000002", "Grace");
    h.model.script([codeStep("import pandas as pd\nprint(len(pd.read_csv('orders.csv')))"), textStep("It has 3 rows.")]);
    const posted = h.discord.post({ author: grace, channelId: h.discord.channelId, content: "Here are the orders", attachments: [h.discord.attachment("orders.csv", csv, "text/csv")] });
    const { token } = h.discord.messageCommand({ user: ada, target: posted });
    await h.discord.waitFor(isCallback(token));
    await h.adapter.idle();
    const [answer] = botMessages(h, h.discord.threads()[0]!.id);
    assert.match(textOf(answer!), /It has 3 rows\./);
    assert.match(textOf(answer!), /```\n3\n```/);
    assert.equal(h.discord.threads()[0]!.name, "Here are the orders");
  });
});

describe("access", () => {
  test("a user without an allowed role gets an ephemeral refusal and nothing runs", async (t) => {
    const allowedRole = "200000000000000001";
    const otherRole = "200000000000000009";
    const h = await discordHarness(t, sandbox, dataRoot, { settings: { allowedRoles: [allowedRole] }, emulator: { roles: [allowedRole, otherRole] } });
    const { token } = h.discord.command({ name: "ask", user: ada, roles: [otherRole], options: [stringOption("question", "Anything")] });
    const refusal = await h.discord.waitFor(isCallback(token));
    await h.adapter.idle();
    assert.equal(refusal.body.type, 4);
    assert.equal(refusal.body.data.flags & 64, 64, "ephemeral");
    assert.match(refusal.body.data.content, /not allowed/);
    assert.equal(h.discord.threads().length, 0);
    assert.equal(h.model.requests.length, 0);

    h.model.script([textStep("Allowed.")]);
    const allowed = h.discord.command({ name: "ask", user: ada, roles: [allowedRole], options: [stringOption("question", "Anything")] });
    await h.discord.waitFor(isCallback(allowed.token));
    await h.adapter.idle();
    assert.match(textOf(botMessages(h, h.discord.threads()[0]!.id)[0]!), /Allowed\./);
  });
});

describe("stop button", () => {
  test("Stop on the status message: refused to a user not allowed, stops the turn for Ada, and says nothing runs once it ended", async (t) => {
    const allowedRole = "200000000000000001";
    const h = await discordHarness(t, sandbox, dataRoot, { settings: { allowedRoles: [allowedRole] }, emulator: { roles: [allowedRole] } });
    const grace = user("100000000000000002", "Grace");
    const thread = h.discord.openThread(h.discord.bot.id, "a question");
    h.model.script([codeStep("import time\nprint('waiting', flush=True)\ntime.sleep(3600)")]);
    const mark = h.discord.calls.length;
    h.discord.post({ author: ada, channelId: thread.id, roles: [allowedRole], content: "Wait an hour" });
    await h.discord.waitFor((call) => h.discord.calls.indexOf(call) >= mark && call.path.startsWith(`/channels/${thread.id}/messages`) && JSON.stringify(call.body).includes("Cell 1: running"));
    const status = botMessages(h, thread.id)[0]!;
    assert.ok(JSON.stringify(status.components).includes('"custom_id":"threadbook:stop"'), "the status message has the Stop button");

    const refused = h.discord.button({ user: grace, messageId: status.id, customId: "threadbook:stop" });
    const refusal = await h.discord.waitFor(isCallback(refused.token));
    assert.equal(refusal.body.type, 4);
    assert.equal(refusal.body.data.flags & 64, 64, "ephemeral");
    assert.match(refusal.body.data.content, /not allowed/);
    assert.equal(h.agent.status(`discord:${h.discord.guildId}:${thread.id}`).running, true, "the turn goes on");

    const pressed = h.discord.button({ user: ada, messageId: status.id, customId: "threadbook:stop", roles: [allowedRole] });
    const update = await h.discord.waitFor(isCallback(pressed.token));
    assert.equal(update.body.type, 6, "acknowledged as an update of the status message");
    await h.adapter.idle();
    const answer = botMessages(h, thread.id);
    assert.equal(answer.length, 1, "the stopped turn's reply replaced the status message");
    assert.match(textOf(answer[0]!), /Stopped by Ada/);
    assert.match(textOf(answer[0]!), /waiting/);

    const late = h.discord.button({ user: ada, messageId: status.id, customId: "threadbook:stop", roles: [allowedRole] });
    const nothing = await h.discord.waitFor(isCallback(late.token));
    assert.equal(nothing.body.data.flags & 64, 64);
    assert.match(nothing.body.data.content, /Nothing is running here/);
  });
});

describe("admit, then download", () => {
  test("ten messages with ten large files each from a user over their hourly limit are refused and download nothing", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot, { env: { THREADBOOK_USER_TURNS_PER_HOUR: "1" } });
    const thread = h.discord.openThread(h.discord.bot.id, "earlier question");
    h.model.script([textStep("First.")]);
    h.discord.post({ author: ada, channelId: thread.id, content: "First question" });
    await h.discord.waitFor((call) => call.path.startsWith(`/channels/${thread.id}/messages`) && JSON.stringify(call.body).includes("First."));
    await h.adapter.idle();
    const large = Buffer.alloc(900 * 1024, 0x61);
    for (let post = 0; post < 10; post++) {
      const attachments = Array.from({ length: 10 }, (_, index) => h.discord.attachment(`part-${post}-${index}.csv`, large, "text/csv"));
      h.discord.post({ author: ada, channelId: thread.id, content: "Read these", attachments });
    }
    // Delivered at once, they meet both of the user's limits: the hourly one, and turns being admitted at once.
    await h.discord.waitFor(() => botMessages(h, thread.id).filter((message) => /past hour|already have 3 questions/.test(textOf(message))).length === 10);
    await h.adapter.idle();
    assert.deepEqual(h.discord.downloads, [], "no file of a refused message is fetched");
    assert.equal(h.model.requests.length, 1);
  });
});

describe("messages in chat", () => {
  test("a model failure that names the model service's address says so without it in the thread; the log keeps the address", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot);
    h.model.script([errorStep(404, { message: "Not Found", type: "invalid_request_error", code: null, param: null })]);
    const { token } = h.discord.command({ name: "ask", user: ada, options: [stringOption("question", "Anything")] });
    await h.discord.waitFor(isCallback(token));
    await h.adapter.idle();
    const address = new URL(h.model.baseURL).host;
    const shown = botMessages(h, h.discord.threads()[0]!.id).map(textOf).join("\n");
    assert.match(shown, /The model service has no \/responses endpoint at \(an address on threadbook's side\) \(404\)\. Check OPENAI_BASE_URL/);
    assert.ok(!shown.includes(address) && !shown.includes("127.0.0.1"), shown);
    assert.ok(h.log.lines().some((line) => JSON.stringify(line).includes(address)), "the log names the address");
  });
});

describe("access by message", () => {
  test("a mention from a user who is not allowed gets a plain refusal in reply, a message in the bot's thread is ignored, and nothing runs", async (t) => {
    const allowedRole = "200000000000000001";
    const h = await discordHarness(t, sandbox, dataRoot, { settings: { allowedRoles: [allowedRole] }, emulator: { roles: [allowedRole] } });
    const thread = h.discord.openThread(h.discord.bot.id, "someone else's question");
    const mark = h.discord.calls.length;
    h.discord.post({ author: ada, channelId: thread.id, content: "Me too?" });
    const asked = h.discord.post({ author: ada, channelId: h.discord.channelId, content: `<@${h.discord.bot.id}> what is in here?`, mentionBot: true });
    const refusal = await h.discord.waitFor((call) => h.discord.calls.indexOf(call) >= mark && call.method === "POST" && call.path === `/channels/${h.discord.channelId}/messages`);
    await h.adapter.idle();
    assert.match(refusal.body.content, /not allowed to use threadbook here/);
    assert.equal(refusal.body.message_reference?.message_id, asked.id, "a reply to the question");
    assert.deepEqual(refusal.body.allowed_mentions, { parse: [] }, "it pings nobody (Discord does not ping the replied-to author unless asked)");
    const sent = h.discord.calls.slice(mark).filter((call) => call.method !== "GET");
    assert.deepEqual(sent.map((call) => `${call.method} ${call.path}`), [`POST /channels/${h.discord.channelId}/messages`], "no thread, no typing, nothing in the thread");
    assert.equal(h.model.requests.length, 0);
  });
});

describe("gateway", () => {
  test("a drop mid-turn is resumed, heartbeats are acknowledged, and the answer arrives once though the event is delivered again", async (t) => {
    const h = await discordHarness(t, sandbox, dataRoot, { emulator: { heartbeatIntervalMs: 300 } });
    const thread = h.discord.openThread(h.discord.bot.id, "earlier question");
    h.model.script([codeStep("import time\nprint('working', flush=True)\ntime.sleep(2)\nprint('done')"), textStep("Finished after the drop.")]);
    const mark = h.discord.calls.length;
    h.discord.post({ author: ada, channelId: thread.id, content: "Take a moment" });
    await h.discord.waitFor((call) => h.discord.calls.indexOf(call) >= mark && call.path.startsWith(`/channels/${thread.id}/messages`) && JSON.stringify(call.body).includes("Cell 1: running"));
    await h.discord.gateway.until(() => h.discord.gateway.heartbeatAcks > 0);
    // The drop: the client resumes, and the gateway delivers the question's MESSAGE_CREATE again. Within one
    // process discord.js drops it already (the message is in its cache); the core's claim of the event, which
    // also holds across a restart, is tested in discord-lifecycle.test.ts.
    h.discord.gateway.drop(4);
    await h.discord.gateway.until(() => h.discord.gateway.resumes === 1);
    await h.agent.idle();
    await h.adapter.idle();
    assert.equal(h.discord.gateway.identifies, 1, "resumed, not identified again");
    const answers = botMessages(h, thread.id);
    assert.equal(answers.length, 1, "one answer");
    assert.match(textOf(answers[0]!), /Finished after the drop\./);
    assert.equal(h.model.requests.length, 2, "the turn ran once");
  });
});

describe("commands", () => {
  test("register puts /ask, /reset, /stop, /help, /export and Ask threadbook in a guild, or globally", async (t) => {
    const discord = await DiscordEmulator.start();
    t.after(() => discord.stop());
    const settings = { token: discord.token, applicationId: discord.applicationId, apiUrl: discord.apiUrl, allowedGuilds: [], allowedChannels: [], allowedRoles: [] };
    assert.deepEqual(await registerCommands(settings, discord.guildId), { count: 6, guildId: discord.guildId });
    assert.deepEqual(await registerCommands(settings, undefined), { count: 6, guildId: undefined });
    const [inGuild, global] = discord.calls;
    assert.equal(inGuild!.path, `/applications/${discord.applicationId}/guilds/${discord.guildId}/commands`);
    assert.equal(global!.path, `/applications/${discord.applicationId}/commands`);
    assert.deepEqual(inGuild!.body.map((command: { name: string; type: number }) => [command.name, command.type]), [["ask", 1], ["reset", 1], ["stop", 1], ["help", 1], ["export", 1], ["Ask threadbook", 3]]);
    const ask = inGuild!.body[0];
    assert.deepEqual(ask.options.map((option: { name: string; type: number }) => [option.name, option.type]), [["question", 3], ["file", 11], ["file2", 11], ["file3", 11]]);
    discord.assertDone();
  });
});
