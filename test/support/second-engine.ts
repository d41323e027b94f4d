/**
 * A Docker engine of the test's own, beside the machine's: its own data
 * root, exec root, pid file, socket, containerd namespace and network
 * namespace (`unshare --net`: its bridge and firewall rules never touch the
 * machine's), so the test can stop and start it (as an engine restart)
 * without touching the machine's engine. The sandbox image is copied in with `docker save | docker load`.
 * Stopped by its pid; its directory removed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";

export interface SecondEngine {
  /** e.g. "unix:///tmp/…/docker.sock", for THREADBOOK_DOCKER_HOST or `dockerHost`. */
  readonly host: string;
  readonly docker: Docker;
  /** Stops the engine (SIGTERM, by pid) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same directories. */
  start(): Promise<void>;
  /** Stops it for good and removes its directories. */
  remove(): Promise<void>;
}

export async function startSecondEngine(options: { image: string }): Promise<SecondEngine> {
  const root = mkdtempSync(join(tmpdir(), "tb-engine-"));
  const socket = join(root, "docker.sock");
  const namespace = `tbtest-${process.pid}`;
  let child: ChildProcess | undefined;
  const docker = new Docker({ socketPath: socket });

  const start = async () => {
    // unshare execs dockerd in place, so the pid is dockerd's.
    child = spawn("unshare", ["--net", "dockerd",
      "--data-root", join(root, "data"), "--exec-root", join(root, "exec"), "--pidfile", join(root, "docker.pid"),
      "-H", `unix://${socket}`, "--iptables=false", "--ip-masq=false",
      "--containerd-namespace", namespace, "--containerd-plugins-namespace", `${namespace}-plugins`,
    ], { stdio: "ignore" });
    const exited = once(child, "exit");
    for (;;) {
      const answered = await docker.ping().then(() => true, () => false);
      if (answered) return;
      const gone = await Promise.race([exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 200))]);
      if (gone) throw new Error("the test's own dockerd exited as it started");
    }
  };
  const stop = async () => {
    if (child === undefined || child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  };

  await start();
  // The sandbox image, copied from the machine's engine.
  await new Promise<void>((resolve, reject) => {
    const save = spawn("docker", ["save", options.image], { stdio: ["ignore", "pipe", "inherit"] });
    const load = spawn("docker", ["-H", `unix://${socket}`, "load", "-q"], { stdio: ["pipe", "ignore", "inherit"] });
    save.stdout.pipe(load.stdin);
    load.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`docker load exited ${code}`))));
    save.on("error", reject);
    load.on("error", reject);
  });
  return {
    host: `unix://${socket}`,
    docker,
    stop,
    start,
    remove: async () => {
      if (child !== undefined && child.exitCode === null) {
        for (const info of await docker.listContainers({ all: true }).catch(() => [])) await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
      }
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
