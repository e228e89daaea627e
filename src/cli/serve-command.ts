/**
 * `patrol start` (web + workers in one process: the default), `patrol web` (webhooks, API, dashboard, metrics)
 * and `patrol worker` (the scan, respond and notify workers). Runs until SIGINT or SIGTERM.
 */
import { once } from "node:events";
import { loadConfig } from "../config.js";
import { createLogger } from "../logging.js";
import { type ServiceMode, startService } from "../service/index.js";
import { assertAddressFree } from "./port-check.js";
import { type CliIo, UsageError } from "./usage-error.js";

/** Past this, shutdown stops waiting for active jobs: BullMQ hands them to another worker once their lock lapses. */
const SHUTDOWN_LIMIT_MS = 25_000;

export async function runServe(
  mode: ServiceMode,
  argv: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  if (argv.length > 0)
    throw new UsageError(`patrol ${mode} takes no arguments; configure it with environment variables`);
  const config = loadConfig();
  const logger = createLogger(config);
  // Before any database is opened: a second patrol on a busy port must not touch the first one's data.
  await assertAddressFree(config.http.host, config.http.port);
  const service = await startService(mode, config, logger);
  const parts = mode === "start" ? "web + workers" : mode === "web" ? "web" : "workers";
  io.stderr.write(
    `patrol ${mode}: ${parts}, listening on ${service.url} (database: ${config.databaseUrl ? "PostgreSQL" : `PGlite in ${config.dataDir}`})\n`,
  );

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  signal?.addEventListener("abort", onSignal, { once: true });
  await once(stop.signal, "abort");
  logger.info("shutting down: no new webhooks, finishing active jobs");
  const force = setTimeout(() => {
    logger.error("shutdown took too long; exiting");
    process.exit(1);
  }, SHUTDOWN_LIMIT_MS);
  force.unref();
  await service.stop();
  clearTimeout(force);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return 0;
}
