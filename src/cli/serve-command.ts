/**
 * `patrol start` and `patrol web`: run the HTTP server (the issuing store's API, health) until SIGINT or
 * SIGTERM, then close connections, stop the maintenance timer and close the database.
 * (`start` will also run the pipeline's workers in-process once they exist; today both run the web part.)
 */
import { once } from "node:events";
import { loadConfig } from "../config.js";
import { openIssuerStore, scheduleIssuerMaintenance } from "../issuer/index.js";
import { createLogger } from "../logging.js";
import { buildWebServer } from "../web/server.js";
import { assertAddressFree } from "./port-check.js";
import { type CliIo, UsageError } from "./usage-error.js";

export async function runServe(
  mode: "start" | "web",
  argv: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  if (argv.length > 0)
    throw new UsageError(`patrol ${mode} takes no arguments; configure it with environment variables`);
  const config = loadConfig();
  const logger = createLogger(config);
  if (config.env === "production" && !config.auth.adminKey && !config.auth.oidc.issuer) {
    logger.warn(
      "neither PATROL_ADMIN_KEY nor OIDC_ISSUER is set: nobody can call the lifecycle or admin API",
    );
  }
  await assertAddressFree(config.http.host, config.http.port);
  const store = await openIssuerStore({ config, logger });
  const stopMaintenance = scheduleIssuerMaintenance(store);
  const app = await buildWebServer({ config, logger, store });
  try {
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    await stopMaintenance();
    await store.close();
    throw new Error(`cannot listen on ${config.http.host}:${config.http.port}: ${(error as Error).message}`);
  }
  const address = app.server.address();
  const where =
    typeof address === "object" && address ? `http://${address.address}:${address.port}` : String(address);
  io.stderr.write(
    `patrol ${mode}: listening on ${where} (database: ${config.databaseUrl ? "PostgreSQL" : `PGlite in ${config.dataDir}`})\n`,
  );

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  signal?.addEventListener("abort", onSignal, { once: true });
  await once(stop.signal, "abort");
  logger.info("shutting down");
  await app.close();
  await stopMaintenance();
  await store.close();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return 0;
}
