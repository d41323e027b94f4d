/** What the figures were measured on, so two runs can be compared fairly. */
import { cpus, release, totalmem, type } from "node:os";
import type Docker from "dockerode";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  os: string;
  node: string;
  dockerServer: string;
  /** The container runtime the sessions ran under, e.g. "runc" or "runsc". */
  dockerRuntime: string;
}

export async function describeMachine(docker: Docker, runtime: string | undefined): Promise<MachineInfo> {
  const [version, info] = await Promise.all([docker.version(), docker.info() as Promise<{ DefaultRuntime?: string }>]);
  const processors = cpus();
  return {
    cpus: processors.length,
    cpuModel: processors[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    dockerServer: version.Version,
    dockerRuntime: runtime ?? info.DefaultRuntime ?? "runc",
  };
}
