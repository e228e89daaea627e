/**
 * patrol's HTTP server: the issuing store's API, health and readiness. One Fastify instance; each part is a
 * plugin, so the pieces the pipeline adds (webhooks, dashboard, metrics) register here too.
 */
import helmet from "@fastify/helmet";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import { type IssuerStore, issuerRoutes } from "../issuer/index.js";

export interface WebServerDeps {
  config: Config;
  logger: Logger;
  store: IssuerStore;
  /** Tests shorten these. */
  limits?: Partial<ServerLimits>;
}

export interface ServerLimits {
  /** The whole request (headers and body) must arrive within this: a trickling client cannot hold a socket. */
  requestTimeoutMs: number;
  /** A socket with no traffic for this long is closed. */
  connectionTimeoutMs: number;
  /** How often Node checks requests against requestTimeoutMs. */
  timeoutCheckIntervalMs: number;
  maxConnections: number;
}

export const SERVER_LIMITS: ServerLimits = {
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 60_000,
  timeoutCheckIntervalMs: 5_000,
  maxConnections: 1024,
};

/** The request as the request log shows it: the path without its query string, which may carry a secret. */
function loggedRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: request.url.split("?")[0],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

export async function buildWebServer({
  config,
  logger,
  store,
  limits,
}: WebServerDeps): Promise<FastifyInstance> {
  const { requestTimeoutMs, connectionTimeoutMs, timeoutCheckIntervalMs, maxConnections } = {
    ...SERVER_LIMITS,
    ...limits,
  };
  const app: FastifyInstance = Fastify({
    loggerInstance: logger.child({}, { serializers: { req: loggedRequest } }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Behind a reverse proxy, client addresses (for the failed-authentication throttle) come from X-Forwarded-For.
    trustProxy: config.http.trustProxy,
    requestTimeout: requestTimeoutMs,
    connectionTimeout: connectionTimeoutMs,
    http: { connectionsCheckingInterval: timeoutCheckIntervalMs },
  });
  app.server.maxConnections = maxConnections;
  // Node enforces requestTimeout only when headersTimeout is not longer (its default is 60 s); headers are small.
  app.server.headersTimeout = Math.min(requestTimeoutMs, 10_000);
  await app.register(helmet);

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
