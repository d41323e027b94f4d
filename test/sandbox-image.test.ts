/** The bot builds a missing sandbox image itself on start, and says so. */
import assert from "node:assert/strict";
import { test } from "node:test";
import Docker from "dockerode";
import { currentImageTag, imageExists } from "../src/sandbox/docker/image.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

test("a missing image is built on start, with a status the user sees", async () => {
  const docker = new Docker();
  const tag = currentImageTag();
  assert.ok(await imageExists(docker, tag), "the suite starts with a current image");
  // Untag it; its layers stay (the :latest tag shares them), so the rebuild is quick. Forced: a
  // session of another process on this engine may run on it, and keeps running while it is rebuilt.
  await docker.getImage(tag).remove({ force: true, noprune: true });
  assert.equal(await imageExists(docker, tag), false);

  const instance = testInstance();
  const statuses: string[] = [];
  const sandbox = await startTestSandbox({ instance, poolSize: 0, buildMissingImage: true, onStatus: (message) => statuses.push(message) });
  try {
    assert.equal(await imageExists(docker, tag), true);
    assert.match(statuses.join("\n"), new RegExp(`Building the sandbox image ${tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const session = await sandbox.acquire("built");
    assert.equal((await session.run("import pandas\n'ready'")).value, "'ready'");
  } finally {
    await sandbox.close();
    await removeInstance(instance);
  }
});
