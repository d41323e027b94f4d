/**
 * What a running bot offers its operator beside the chat: the control socket
 * (`threadbook sessions`) always, and the health and metrics endpoint when
 * THREADBOOK_METRICS_PORT is set. Both close first on shutdown.
 */
import type { PlatformAdapter } from "../adapters/platform-adapter.ts";
import { SessionAdmin } from "../core/session-admin.ts";
import { ConfigError } from "../errors.ts";
import type { Services } from "../services.ts";
import { startControlServer } from "./control-server.ts";
import type { Metrics } from "./metrics.ts";
import { startOpsServer } from "./ops-server.ts";
import type { ReadinessCheck } from "./readiness.ts";

export async function startOperations(services: Services, adapters: readonly PlatformAdapter[], metrics: Metrics | undefined): Promise<void> {
  const { config, logger, agent, store, census } = services;
  const control = await startControlServer(config.dataDir, new SessionAdmin({ agent, store, census }), logger);
  if (control !== null) services.onClose(() => control.close());
  if (metrics === undefined || config.metrics.port === undefined) return;
  metrics.watch({ queueLength: () => agent.load().waiting, sessions: () => census.counts() });
  const readiness: ReadinessCheck[] = [
    { name: "store", check: () => store.ping() },
    { name: "docker", check: () => census.ping() },
    ...adapters.map((adapter) => ({ name: adapter.name, check: () => Promise.resolve(adapter.connected) })),
  ];
  const { host, port } = config.metrics;
  let server;
  try {
    server = await startOpsServer({ host, port, metrics, readiness, logger });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new ConfigError([`THREADBOOK_METRICS_PORT: port ${port} on ${host} is taken by another program (0 takes any free port)`]);
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") throw new ConfigError([`THREADBOOK_METRICS_HOST: ${host} is no address of this machine`]);
    throw error;
  }
  services.onClose(() => server.close());
  logger.info({ host, port: server.port }, "metrics listening");
}
