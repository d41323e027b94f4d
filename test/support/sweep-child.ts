/**
 * One bot process for test/sandbox-sweep.test.ts: says "ready" once loaded,
 * waits for "go" on stdin, then starts a `DockerSandbox` of the instance in
 * argv with a warm pool of 2, fills it, and prints the names of the
 * containers it owns as one JSON line. It keeps them until stdin ends, then
 * closes its sandbox and exits.
 */
import { hostname } from "node:os";
import { createInterface } from "node:readline";
import { LABEL_OWNER } from "../../src/sandbox/docker/container-spec.ts";
import { instanceContainers, startTestSandbox } from "./sandbox.ts";

const instance = process.argv[2];
if (!instance) throw new Error("usage: sweep-child.ts <instance>");
const owner = `${hostname()}:${process.pid}`;

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write("ready\n");
const go = await lines.next();
if (go.done || go.value !== "go") process.exit(0);

const sandbox = await startTestSandbox({ instance, poolSize: 2 });
try {
  await sandbox.warmUp();
  const own = (await instanceContainers(instance)).filter((info) => info.Labels[LABEL_OWNER] === owner).map((info) => (info.Names[0] ?? info.Id).replace(/^\//, ""));
  process.stdout.write(`${JSON.stringify({ owner, pool: own.sort() })}\n`);
  while (!(await lines.next()).done);
} finally {
  await sandbox.close();
}
