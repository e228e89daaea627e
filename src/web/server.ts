/**
 * patrol's HTTP server: the issuing store's API, health and readiness. One Fastify instance; each part is a
 * plugin, so the pieces the pipeline adds (webhooks, dashboard, metrics) register here too.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { type IssuerStore, issuerRoutes } from "../issuer/index.js";

export interface WebServerDeps {
  config: Config;
  logger: Logger;
  store: IssuerStore;
}

export async function buildWebServer({ config, logger, store }: WebServerDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Behind a reverse proxy, client addresses (for the failed-authentication throttle) come from X-Forwarded-For.
    trustProxy: config.http.trustProxy,
    // Azure DevOps routes ignore case (its own examples use /_apis/Tokens/Pats).
    routerOptions: { caseSensitive: false },
  });

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    try {
      await store.db.query("select 1");
      return { status: "ready" };
    } catch (error) {
      logger.warn({ err: error }, "readiness check failed: database unreachable");
      return reply.code(503).send({ status: "unavailable", reason: "database unreachable" });
    }
  });

  await app.register(issuerRoutes, { store, config, logger });
  return app;
}
