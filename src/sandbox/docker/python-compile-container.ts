/**
 * Compiles Python files in a short-lived container of the sandbox image,
 * hardened like a session's (container-spec.ts), sources in on stdin, a JSON
 * line out. Used to check a skill before it is stored.
 */
import { randomBytes } from "node:crypto";
import { PassThrough, type Duplex } from "node:stream";
import type Docker from "dockerode";
import { SandboxError } from "../../errors.ts";
import { containerSpec, SANDBOX_USER, type ContainerLimits } from "./container-spec.ts";

/** A Python file to compile: its path (for the problem's name) and bytes. */
export interface PythonSource {
  path: string;
  data: Buffer;
}

/** The first problem found: where, and Python's message. */
export interface CompileProblem {
  path: string;
  line: number | null;
  message: string;
}

/** Resolves to the first file that does not compile, or null when all do. */
export type PythonCompileCheck = (files: readonly PythonSource[]) => Promise<CompileProblem | null>;

const compileTimeoutMs = 60_000;
const maxOutputBytes = 64 * 1024;

// compile() only: no import, no bytecode written, nothing of the files runs.
const script = `
import json, sys
files = json.load(sys.stdin)
problem = None
for path, source in files:
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        problem = {"path": path, "line": getattr(error, "lineno", None), "message": getattr(error, "msg", None) or str(error)}
        break
print(json.dumps({"problem": problem}))
`;

export interface CompileContainerOptions {
  docker: Docker;
  image: string;
  /** Label of the containers this threadbook owns, so a sweep removes a leftover. */
  instance: string;
  owner: string;
  limits: ContainerLimits;
}

export function pythonCompileContainer(options: CompileContainerOptions): PythonCompileCheck {
  return async (files) => {
    const python = files.filter((file) => file.path.endsWith(".py"));
    if (python.length === 0) return null;
    const spec = containerSpec({
      image: options.image,
      name: `${options.instance}-compile-${randomBytes(4).toString("hex")}`,
      instance: options.instance,
      owner: options.owner,
      limits: { ...options.limits, diskMb: 8 },
    });
    const container = await options.docker
      .createContainer({ ...spec, User: SANDBOX_USER, HostConfig: { ...spec.HostConfig, CapAdd: [] }, Cmd: ["python3", "-I", "-c", script], StdinOnce: true })
      .catch((error: unknown) => {
        throw new SandboxError("sandbox_failed", "Could not start a container to check the skill's Python files.", { cause: error });
      });
    try {
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let output = "";
      stdout.on("data", (chunk: Buffer) => {
        if (output.length < maxOutputBytes) output += chunk.toString("utf8");
      });
      stderr.resume();
      options.docker.modem.demuxStream(stream, stdout, stderr);
      await container.start();
      stream.end(JSON.stringify(python.map((file) => [file.path, file.data.toString("utf8")])));
      const timer = setTimeout(() => void container.kill().catch(() => undefined), compileTimeoutMs);
      const exit = (await container.wait().finally(() => clearTimeout(timer))) as { StatusCode: number };
      await new Promise<void>((resolve) => (stream.readableEnded ? resolve() : stream.once("end", resolve).once("close", resolve)));
      const line = output.trim().split("\n").at(-1) ?? "";
      let parsed: { problem: CompileProblem | null } | undefined;
      try {
        parsed = JSON.parse(line) as { problem: CompileProblem | null };
      } catch {
        parsed = undefined;
      }
      if (exit.StatusCode !== 0 || parsed === undefined) {
        throw new SandboxError("sandbox_failed", "Checking the skill's Python files failed in the sandbox.", { details: { exitCode: exit.StatusCode } });
      }
      return parsed.problem;
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  };
}
