/**
 * How a session's container is made: hardened by default. No network, a
 * read-only root, no new privileges, Docker's default seccomp profile, and
 * limits on pids, memory (no swap), CPU, open files, file size and the
 * working directory's size. Nothing of the host's environment is passed in.
 *
 * The container's main process is the supervisor (sandbox/runtime/supervisor.py):
 * root inside, with only the capabilities to start the kernel under the
 * sandbox user and to signal it (SETUID, SETGID, KILL) and to give files put
 * in to that user (CHOWN). The user's code runs in the kernel, as the sandbox
 * user with no capabilities at all, so it can neither signal nor trace the
 * supervisor nor the transfers the host runs as root.
 *
 * Where an operator opens a door out (src/egress/), the network stays
 * "none": the door's directory is mounted, the supervisor starts a forwarder
 * on the container's loopback, and the proxy settings and pip's target and
 * package directory are added; nothing else changes.
 */
import type Docker from "dockerode";

export const SANDBOX_USER = "10001:10001";
/** The supervisor, and the host's file transfers: root, in the sandbox user's group (the working directory is 0770). */
export const SUPERVISOR_USER = "0:10001";
/** The capabilities the supervisor keeps; the kernel drops them all as it takes the sandbox user. */
const SUPERVISOR_CAPABILITIES = ["CHOWN", "SETUID", "SETGID", "KILL"];
/**
 * Under host memory pressure the kernel's OOM killer picks a session before
 * the bot (whose score adjustment is 0): a lost session is restarted, a lost bot is every session.
 */
export const SESSION_OOM_SCORE_ADJ = 800;
export const WORKDIR = "/work";
export const SNAPSHOT_DIR = "/snapshot";
/** Skills, written by root on claim (skill-files.ts): readable, not writable, by the sandbox user. */
export const SKILLS_DIR = "/skills";
/** On PYTHONPATH: holds the `skills` package whose path is every skill's scripts/. */
export const SKILLS_PYTHON_DIR = "/skills/.python";
export const LABEL_INSTANCE = "threadbook.instance";
/** "<host>:<pid>" of the process that started the container. */
export const LABEL_OWNER = "threadbook.owner";
/** The token of the container's door out (egress-doors.ts), where it has one. */
export const LABEL_EGRESS = "threadbook.egress";
/** Where the door's directory (its Unix socket) is mounted; the supervisor starts the forwarder when it is there. */
export const EGRESS_DIR = "/run/threadbook/egress";
/** The forwarder's port on the container's own loopback, named by HTTP_PROXY and HTTPS_PROXY. */
export const EGRESS_PORT = 3128;
/** Where pip installs (PIP_TARGET), on PYTHONPATH; its own tmpfs, not noexec, so compiled wheels load. */
export const PACKAGES_DIR = "/packages";

/** A session's door out; absent: no network at all, as ever. */
export interface ContainerEgress {
  /** The door's token (egress-doors.ts), carried as a label so a restarted bot reopens it. */
  token: string;
  /** The host directory holding the door's socket. */
  directory: string;
  /** The size of the package directory's tmpfs, counted against the session's memory. */
  packagesMb: number;
  /** pip's index (PIP_INDEX_URL); pip's own default when absent. */
  pipIndexUrl: string | undefined;
}

export interface ContainerLimits {
  memoryMb: number;
  cpus: number;
  pids: number;
  diskMb: number;
  fileMb: number;
  /** Room for the kernel's saved namespace; 0: none is saved. Absent: 64. */
  snapshotMb?: number;
  /** e.g. "runsc" for gVisor; undefined for Docker's default runtime. */
  runtime: string | undefined;
}

/**
 * Under gVisor the container's pids cgroup also counts the threads of
 * gVisor's own kernel (the Sentry), so a tight cgroup limit starves it. The
 * limit gets headroom there, plus an nproc limit for gVisor versions that
 * enforce it; where they do not, a fork bomb runs into the memory limit and
 * the session is restarted.
 */
const GVISOR_THREAD_HEADROOM = 512;

/**
 * A session container's create options. `preload: false` (a session started
 * while someone waits) has its kernel import nothing ahead; a warm
 * container's imports the data stack before it is claimed.
 */
export function containerSpec(options: { image: string; name: string; instance: string; limits: ContainerLimits; owner: string; egress?: ContainerEgress | undefined; preload?: boolean }): Docker.ContainerCreateOptions {
  const { limits, egress } = options;
  const preload = options.preload === false ? ["THREADBOOK_PRELOAD=0"] : [];
  const memory = limits.memoryMb * 1024 * 1024;
  const fileBytes = limits.fileMb * 1024 * 1024;
  return {
    name: options.name,
    Image: options.image,
    Labels: { [LABEL_INSTANCE]: options.instance, [LABEL_OWNER]: options.owner, ...(egress ? { [LABEL_EGRESS]: egress.token } : {}) },
    User: SUPERVISOR_USER,
    WorkingDir: WORKDIR,
    Env: egress ? [`THREADBOOK_WORKDIR=${WORKDIR}`, `PYTHONPATH=${SKILLS_PYTHON_DIR}:${PACKAGES_DIR}`, ...preload, ...egressEnvironment(egress)] : [`THREADBOOK_WORKDIR=${WORKDIR}`, `PYTHONPATH=${SKILLS_PYTHON_DIR}`, ...preload],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: false,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: "none",
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      CapAdd: SUPERVISOR_CAPABILITIES,
      OomScoreAdj: SESSION_OOM_SCORE_ADJ,
      SecurityOpt: ["no-new-privileges"],
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.runtime === "runsc" ? limits.pids + GVISOR_THREAD_HEADROOM : limits.pids,
      Ulimits: [
        ...(limits.runtime === "runsc" ? [{ Name: "nproc", Soft: limits.pids, Hard: limits.pids }] : []),
        { Name: "nofile", Soft: 1024, Hard: 1024 },
        { Name: "fsize", Soft: fileBytes, Hard: fileBytes },
        { Name: "core", Soft: 0, Hard: 0 },
      ],
      Tmpfs: {
        // Counts against the session's memory: tmpfs pages are charged to its cgroup.
        [WORKDIR]: `rw,nosuid,nodev,noexec,size=${limits.diskMb}m,uid=10001,gid=10001,mode=0770`,
        "/tmp": "rw,nosuid,nodev,noexec,size=64m,uid=10001,gid=10001,mode=1777",
        // The kernel's saved namespace, on its way to the host or back; its size bounds a snapshot.
        [SNAPSHOT_DIR]: `rw,nosuid,nodev,noexec,size=${Math.max(1, limits.snapshotMb ?? 64)}m,uid=10001,gid=10001,mode=0770`,
        // Owned by root, 0755: only an exec as root (which needs no capability to write what it owns) writes here.
        [SKILLS_DIR]: "rw,nosuid,nodev,noexec,size=64m,uid=0,gid=0,mode=0755",
        // Its own mount so the directory exists when Python starts: a PYTHONPATH entry missing then is never looked at again.
        [SKILLS_PYTHON_DIR]: "rw,nosuid,nodev,noexec,size=1m,uid=0,gid=0,mode=0755",
        // exec (Docker makes a tmpfs noexec unless told): a compiled wheel's extension is mapped executable. Written by the sandbox user (pip in a cell).
        ...(egress ? { [PACKAGES_DIR]: `rw,exec,nosuid,nodev,size=${egress.packagesMb}m,uid=10001,gid=10001,mode=0755` } : {}),
      },
      // The door's directory, read-only: the socket in it is the container's one way out (connecting needs no write to the mount).
      ...(egress ? { Mounts: [{ Type: "bind" as const, Source: egress.directory, Target: EGRESS_DIR, ReadOnly: true }] } : {}),
      ShmSize: 64 * 1024 * 1024,
      IpcMode: "private",
      Init: true,
      LogConfig: { Type: "none", Config: {} },
      RestartPolicy: { Name: "no" },
      ...(limits.runtime ? { Runtime: limits.runtime } : {}),
    },
  };
}

/**
 * The door's environment: Python's clients and pip go through the forwarder
 * on the loopback, with no NO_PROXY (nothing goes around the door); pip
 * installs into the package directory, past Debian's externally-managed
 * marker (the system's packages stay untouched: it writes only there), with
 * no cache in the small /tmp.
 */
function egressEnvironment(egress: ContainerEgress): string[] {
  const proxy = `http://127.0.0.1:${EGRESS_PORT}`;
  const index = egress.pipIndexUrl === undefined ? [] : [`PIP_INDEX_URL=${egress.pipIndexUrl}`];
  // pip ignores a plain-http index unless told to trust its host (loopback excepted).
  const trusted = egress.pipIndexUrl?.startsWith("http:") ? [`PIP_TRUSTED_HOST=${new URL(egress.pipIndexUrl).hostname}`] : [];
  return [
    `THREADBOOK_EGRESS_DIR=${EGRESS_DIR}`, `THREADBOOK_EGRESS_PORT=${EGRESS_PORT}`,
    `HTTP_PROXY=${proxy}`, `HTTPS_PROXY=${proxy}`, `http_proxy=${proxy}`, `https_proxy=${proxy}`,
    `PIP_TARGET=${PACKAGES_DIR}`, "PIP_BREAK_SYSTEM_PACKAGES=1", "PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1",
    "PIP_NO_INPUT=1", "PIP_PROGRESS_BAR=off", "PIP_NO_WARN_SCRIPT_LOCATION=1", ...index, ...trusted,
  ];
}
