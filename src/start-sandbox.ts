/**
 * The sandbox the settings ask for, with its census: one DockerSandbox on
 * the one engine (DOCKER_HOST), or, with several in THREADBOOK_DOCKER_HOSTS,
 * a placement over one DockerSandbox per engine.
 */
import type { Config } from "./config.ts";
import { dockerSandboxOptions, sandboxEngines } from "./docker-sandbox-options.ts";
import { DockerSandbox, type DockerSandboxOptions } from "./sandbox/docker/docker-sandbox.ts";
import { DockerSessionCensus } from "./sandbox/docker/docker-session-census.ts";
import { HostPlacement } from "./sandbox/placement/host-placement.ts";
import { PlacementCensus } from "./sandbox/placement/placement-census.ts";
import type { Sandbox } from "./sandbox/sandbox.ts";
import type { SessionCensus } from "./sandbox/session-census.ts";

/** How often the engines are asked whether they answer, with several: a host back up is used again within this. */
export const hostHealthIntervalMs = 10_000;

export interface StartedSandbox {
  sandbox: Sandbox;
  census: SessionCensus;
}

type Overrides = Partial<DockerSandboxOptions> & Pick<DockerSandboxOptions, "logger">;

export async function startSandbox(config: Config, overrides: Overrides, healthIntervalMs = hostHealthIntervalMs): Promise<StartedSandbox> {
  const engines = sandboxEngines(config);
  if (engines.length === 1) {
    const sandbox = await DockerSandbox.start(dockerSandboxOptions(config, overrides));
    return { sandbox, census: new DockerSessionCensus(sandbox, engines[0]) };
  }
  const placement = await HostPlacement.start({
    logger: overrides.logger,
    healthIntervalMs,
    hosts: engines.map((dockerHost) => ({
      name: dockerHost ?? "local",
      start: async () => {
        const sandbox = await DockerSandbox.start({ ...dockerSandboxOptions(config, overrides), dockerHost, logger: overrides.logger.child({ dockerHost }) });
        return { sandbox, census: new DockerSessionCensus(sandbox, dockerHost) };
      },
    })),
  });
  return { sandbox: placement, census: new PlacementCensus(() => placement.censuses()) };
}
