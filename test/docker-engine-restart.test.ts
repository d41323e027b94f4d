/**
 * The Docker engine restarted under a running bot: a second dockerd this
 * test starts itself (its own --data-root, --exec-root, --pidfile and
 * socket, no bridge, no iptables, its own containerd), the sandbox image
 * copied into it with `docker save | docker load`, and stopped by its pid.
 * The machine's own engine is never touched. The real `threadbook start`
 * against the Slack emulator uses that engine; it is stopped while a cell
 * runs and stays down until the turn has ended: the model is told the
 * session died and its answer is posted; started again, the next question in the thread is answered
 * without restarting the bot.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Docker from "dockerode";
import { currentImageTag } from "../src/sandbox/docker/image.ts";
import { codeStep, textStep, type RecordedRequest, type ScriptedStep } from "./emulators/openai-server.ts";
import { startSlackBot, type SlackBot } from "./support/slack-bot.ts";
import { botUserId, channel, userPost } from "./support/slack-harness.ts";
import { streamedMarkdown } from "./support/slack-questions.ts";
import { testInstance } from "./support/sandbox.ts";

const instance = testInstance();
const image = currentImageTag();
let root: string;
let engine: ChildProcess | undefined;
let h: SlackBot | undefined;

/** Short: a Unix socket's path must fit in 108 bytes. */
const paths = () => ({ data: join(root, "data-root"), exec: join(root, "x"), pid: join(root, "d.pid"), socket: join(root, "d.sock") });

/** Starts the test's own dockerd and waits until it answers. */
async function startEngine(): Promise<void> {
  const { data, exec, pid, socket } = paths();
  engine = spawn("dockerd", ["--data-root", data, "--exec-root", exec, "--pidfile", pid, "-H", `unix://${socket}`, "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"], { stdio: "ignore" });
  const docker = new Docker({ socketPath: socket });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (engine.exitCode !== null) throw new Error(`the test's dockerd exited (${engine.exitCode})`);
    if (await docker.ping().then(() => true, () => false)) return;
    if (Date.now() > deadline) throw new Error("the test's dockerd did not answer within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Stops the test's dockerd by the pid it wrote, and waits for it to exit. */
async function stopEngine(): Promise<void> {
  if (engine === undefined || engine.exitCode !== null) return;
  const exited = once(engine, "exit");
  process.kill(Number(readFileSync(paths().pid, "utf8").trim()), "SIGTERM");
  await exited;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, stdin?: NodeJS.ReadableStream): Promise<void> {
  const child = spawn(command, args, { env, stdio: [stdin === undefined ? "ignore" : "pipe", "ignore", "inherit"] });
  if (stdin !== undefined && child.stdin !== null) stdin.pipe(child.stdin);
  return new Promise((resolve, reject) => child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code}`)))));
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "tbe-"));
  await startEngine();
  const save = spawn("docker", ["save", image], { stdio: ["ignore", "pipe", "inherit"] });
  await run("docker", ["load", "--quiet"], { ...process.env, DOCKER_HOST: `unix://${paths().socket}` }, save.stdout);
  h = await startSlackBot({ root, instance, settings: { DOCKER_HOST: `unix://${paths().socket}`, THREADBOOK_SANDBOX_IMAGE: image, THREADBOOK_CELL_TIMEOUT_S: "600" } });
});

after(async () => {
  try {
    await h?.stop();
  } finally {
    await stopEngine();
    rmSync(root, { recursive: true, force: true });
  }
});

function threadText(rootTs: string): string {
  return h!.slack.thread(channel, rootTs).map((message) => (message.chunks.length > 0 ? streamedMarkdown(message) : message.text)).join("\n");
}

function turnEnded(rootTs: string): Promise<unknown> {
  const since = h!.slack.calls.length;
  return h!.slack.waitForCall("assistant.threads.setStatus", (call) => h!.slack.calls.indexOf(call) >= since && call.args.thread_ts === rootTs && call.args.status === "", 180_000);
}

/**
 * A model step for any turn: the first step of a turn runs `1 + 1`, a step
 * after a cell answers, numbered. Whether the turn cut short by the engine
 * asks its second step depends on where the engine was in its shutdown when
 * the session's restart was tried: either way the thread must say so plainly.
 */
let answers = 0;
function anyStep(request: RecordedRequest): ScriptedStep {
  const items = request.body["input"] as { type?: string }[];
  return items.at(-1)?.type?.endsWith("_call_output") === true ? textStep(`Answer ${++answers}.`) : codeStep("1 + 1");
}

test("the Docker engine restarted mid-cell: the thread is told plainly, and the next question is answered without restarting the bot", { timeout: 600_000 }, async () => {
  const bot = h!;
  bot.model.script([codeStep("print('started', flush=True)\nimport time\ntime.sleep(100_000)"), anyStep]);
  const rootTs = bot.slack.nextTs();
  const ended = turnEnded(rootTs);
  await bot.slack.deliver(userPost({ text: `<@${botUserId}> run a long cell`, ts: rootTs }));
  await bot.slack.waitForCall("chat.startStream", (call) => call.args.thread_ts === rootTs && JSON.stringify(call.args.chunks).includes("in_progress"));
  await stopEngine();
  await ended;
  const askedAgain = bot.model.requests.length === 2;
  if (askedAgain) {
    // The session died with the engine: the model was told so, and its answer is posted.
    assert.match(JSON.stringify(bot.model.requests[1]?.body["input"]), /The Python session died/);
    assert.match(threadText(rootTs), /Answer 1\./);
  } else {
    assert.match(threadText(rootTs), /⚠️ Docker stopped answering, so code cannot run\. Start Docker and try again\./);
  }

  await startEngine();
  // The step left unasked, if any, is the follow-up's first.
  bot.model.script(askedAgain ? [anyStep, anyStep] : [anyStep]);
  const again = turnEnded(rootTs);
  await bot.slack.deliver(userPost({ type: "message", channelType: "channel", text: "and one plus one?", ts: bot.slack.nextTs(), threadTs: rootTs }));
  await again;
  assert.match(threadText(rootTs), new RegExp(`Answer ${answers}\\.`));
  const lastItem = (bot.model.requests.at(-1)?.body["input"] as { output?: unknown }[]).at(-1);
  assert.match(String(lastItem?.output), /^value:\n2$/, "the follow-up's cell ran on the restarted engine");
  assert.equal(await Promise.race([bot.bot.exited().then(() => "exited"), Promise.resolve("running")]), "running", "the same bot process answered");
});
