/**
 * A real Postgres server for tests, from Debian's packages: initdb into a
 * temporary directory, the server listening only on a Unix socket in it,
 * stopped by its pid. Postgres refuses to run as root, so under root the
 * server runs as the `postgres` user the package creates. Each test gets a
 * fresh database of its own with `createDatabase`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

const superuser = "threadbook";
const startTimeoutMs = 60_000;

export interface PostgresServer {
  /** The socket directory, which is also the data directory's parent. */
  socketDirectory: string;
  /** The server's process id. */
  pid: number;
  /** A URL for the database `name` on this server. */
  url(name: string): string;
  /** Creates an empty database with a fresh name and returns its URL. */
  createDatabase(): Promise<string>;
  /** Stops the server (fast shutdown, by pid) and removes its directory. */
  stop(): Promise<void>;
}

/** The directory of Debian's Postgres binaries, the newest version installed; undefined when none is. */
export function postgresBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((entry) => existsSync(join(root, entry, "bin", "postgres"))).sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? undefined : join(root, versions[0]!, "bin");
}

function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = ids("-u");
  const gid = ids("-g");
  if (!Number.isInteger(uid) || uid <= 0) throw new Error("running as root, and there is no postgres user to run the test server as (apt-get install postgresql)");
  return { uid, gid };
}

export async function startPostgres(): Promise<PostgresServer> {
  const binaries = postgresBinaries();
  if (binaries === undefined) throw new Error("no Postgres server installed: apt-get install -y postgresql");
  const owner = runAs();
  const directory = mkdtempSync(join(tmpdir(), "threadbook-pg-"));
  const dataDirectory = join(directory, "data");
  if (owner !== undefined) chownSync(directory, owner.uid, owner.gid);
  const initdb = spawnSync(join(binaries, "initdb"), ["-D", dataDirectory, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"], {
    encoding: "utf8",
    ...owner,
  });
  if (initdb.status !== 0) throw new Error(`initdb failed: ${initdb.stderr}`);
  const server: ChildProcess = spawn(
    join(binaries, "postgres"),
    ["-D", dataDirectory, "-k", directory, "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"],
    { stdio: ["ignore", "ignore", "pipe"], ...owner },
  );
  let log = "";
  server.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    log = (log + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
  const url = (name: string) => `postgresql://${superuser}@localhost/${name}?host=${encodeURIComponent(directory)}`;
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      process.kill(server.pid!, "SIGINT");
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  };

  // Ready once a connection succeeds; a server that exits or never answers fails the start.
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (server.exitCode !== null) {
      rmSync(directory, { recursive: true, force: true });
      throw new Error(`the test Postgres server exited: ${log}`);
    }
    const client = new pg.Client({ connectionString: url("postgres"), connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`the test Postgres server did not answer within ${startTimeoutMs} ms: ${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  let databases = 0;
  return {
    socketDirectory: directory,
    pid: server.pid!,
    url,
    async createDatabase() {
      databases += 1;
      const name = `test_${databases}`;
      const client = new pg.Client({ connectionString: url("postgres") });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop,
  };
}
