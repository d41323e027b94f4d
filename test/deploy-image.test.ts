/**
 * The bot's own image (deploy/Dockerfile), built as an operator builds it
 * (`docker build -f deploy/Dockerfile .` from the project's folder, on the
 * sandbox's base, reusing what ./threadbook prepared) and run as deployed:
 * non-root, the Docker socket mounted, on the host's network against the
 * Slack emulator and the scripted model. It must turn healthy, answer a
 * mention by running a cell in a session container it starts through the
 * socket, and exit 0 on `docker stop`, having stopped cleanly. Also: the stop timeouts of the
 * compose file and the systemd unit exceed the shutdown grace.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../src/config.ts";
import { codeStep, startOpenAIServer, textStep, type OpenAIServer } from "./emulators/openai-server.ts";
import { SlackServer } from "./emulators/slack-server.ts";
import { instanceContainers, removeInstance, testInstance } from "./support/sandbox.ts";
import { botUserId, channel, team, userPost } from "./support/slack-harness.ts";

const run = promisify(execFile);
const projectRoot = fileURLToPath(new URL("..", import.meta.url));
const imageTag = "threadbook-bot:test";
const container = `tb-bot-test-${randomBytes(4).toString("hex")}`;
const instance = testInstance();
let slack: SlackServer;
let model: OpenAIServer;

before(async () => {
  slack = await SlackServer.start({ botToken: "xoxb-image-test", appToken: "xapp-image-test", teamId: team, botUserId });
  model = await startOpenAIServer({ apiKey: "sk-image-test" });
});

after(async () => {
  await run("docker", ["rm", "--force", "--volumes", container]).catch(() => undefined);
  await removeInstance(instance);
  await model?.stop();
  await slack?.stop();
});

test("the image builds from the project's folder, runs non-root with the socket mounted, turns healthy, answers a mention, and exits 0 on docker stop", async () => {
  await run("docker", ["build", "--quiet", "--file", "deploy/Dockerfile", "--tag", imageTag, "."], { cwd: projectRoot, maxBuffer: 16 * 1024 * 1024 });
  const config = JSON.parse((await run("docker", ["image", "inspect", "--format", "{{json .Config}}", imageTag])).stdout) as { User: string; Healthcheck: { Test: string[] }; Volumes: Record<string, unknown> };
  assert.equal(config.User, "threadbook");
  assert.ok(config.Volumes["/data"] !== undefined, "/data is a volume");
  assert.match(config.Healthcheck.Test.join(" "), /\/healthz/);

  const socketGroup = (await run("stat", ["-c", "%g", "/var/run/docker.sock"])).stdout.trim();
  const metricsPort = await freePort();
  await run("docker", [
    "run", "--detach", "--name", container, "--network", "host",
    "--volume", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", socketGroup,
    "--health-interval", "1s", "--health-start-period", "0s",
    "--env", "SLACK_BOT_TOKEN=xoxb-image-test", "--env", "SLACK_APP_TOKEN=xapp-image-test", "--env", `SLACK_API_URL=${slack.apiUrl}`,
    "--env", "OPENAI_API_KEY=sk-image-test", "--env", `OPENAI_BASE_URL=${model.baseURL}`, "--env", "THREADBOOK_MODEL=gpt-test",
    "--env", `THREADBOOK_INSTANCE=${instance}`, "--env", "THREADBOOK_SANDBOX_POOL_SIZE=1", "--env", "THREADBOOK_SANDBOX_MEMORY_MB=384",
    "--env", "THREADBOOK_SHUTDOWN_GRACE_S=5", "--env", `THREADBOOK_METRICS_PORT=${metricsPort}`,
    imageTag,
  ]);
  await slack.whenConnected(120_000).catch(async (error: unknown) => {
    throw new Error(`the bot in the image did not connect: ${String(error)}\n${await containerLog()}`);
  });
  await waitFor(async () => (await inspect("{{.State.Health.Status}}")) === "healthy", "the container's HEALTHCHECK passes", 60_000);
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200, await containerLog());

  model.script([codeStep("print(6 * 7)"), textStep("It is 42.")]);
  const thread = slack.nextTs();
  await slack.deliver(userPost({ text: `<@${botUserId}> what is six times seven?`, ts: thread }));
  const answered = await slack.waitForCall("chat.stopStream", () => true, 120_000);
  assert.match(JSON.stringify(slack.thread(channel, thread)), /It is 42\./);
  assert.ok(answered !== undefined);
  assert.match(JSON.stringify(model.requests.at(-1)?.body), /42/, "the cell's output went back to the model");
  assert.ok((await instanceContainers(instance)).some((info) => (info.Names[0] ?? "").startsWith(`/${instance}-s-`)), "the session ran in a container the bot started through the socket");

  await run("docker", ["stop", "--time", "60", container]);
  assert.equal(await inspect("{{.State.ExitCode}}"), "0", await containerLog());
  model.assertDone();
});

test("the compose file runs the image with the socket, the data volume and loopback-only metrics; its and the systemd unit's stop timeouts exceed the default shutdown grace with room to unwind", () => {
  const graceSeconds = loadConfig({}).shutdownGraceMs / 1000;
  const unit = readFileSync(new URL("../deploy/threadbook.service", import.meta.url), "utf8");
  const unitTimeout = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
  assert.ok(unitTimeout >= graceSeconds + 30, `TimeoutStopSec=${unitTimeout} leaves the ${graceSeconds} s grace room to unwind`);
  assert.match(unit, /^SuccessExitStatus=143$/m, "exit 143 after SIGTERM is a clean stop");
  const compose = parseYaml(readFileSync(new URL("../deploy/compose.yaml", import.meta.url), "utf8")) as { services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown> };
  const service = compose.services["threadbook"] ?? {};
  const composeTimeout = Number(/^(\d+)s$/.exec(String(service["stop_grace_period"]))?.[1]);
  assert.ok(composeTimeout >= graceSeconds + 30, `stop_grace_period ${composeTimeout}s leaves the ${graceSeconds} s grace room to unwind`);
  assert.deepEqual(service["build"], { context: "..", dockerfile: "deploy/Dockerfile" });
  assert.deepEqual(service["volumes"], ["/var/run/docker.sock:/var/run/docker.sock", "threadbook-data:/data"]);
  assert.ok("threadbook-data" in compose.volumes);
  assert.deepEqual(service["ports"], ["127.0.0.1:9464:9464"], "the metrics reach the host's loopback only");
});

async function inspect(format: string): Promise<string> {
  return (await run("docker", ["inspect", "--format", format, container])).stdout.trim();
}

async function containerLog(): Promise<string> {
  const { stdout, stderr } = await run("docker", ["logs", "--tail", "60", container], { maxBuffer: 16 * 1024 * 1024 }).catch(() => ({ stdout: "", stderr: "(no log)" }));
  return `${stdout}${stderr}`;
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${await containerLog()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A port free on loopback now, for a setting that must name one before the process starts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
