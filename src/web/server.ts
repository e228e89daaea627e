/**
 * patrol's one HTTP server. Each stage hands it a Fastify plugin: the issuing store's API, GitHub's webhooks,
 * the metrics, health and readiness (and the queue dashboard). `patrol worker` serves only health and metrics.
 */
import { randomUUID } from "node:crypto";
import helmet from "@fastify/helmet";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Probot } from "probot";
import type { Config } from "../config.js";
import {
  AppNotInstalledError,
  githubWebhookRoutes,
  manualHistoryReference,
  patrolApp,
  SecretScanningKeys,
  secretScanningRoutes,
  type WebhookOutcome,
} from "../github/index.js";
import { type HistoryScanStarter, type IssuerStore, issuerRoutes } from "../issuer/index.js";
import { registry } from "../metrics/index.js";
import { type PatrolQueues, respondJob } from "../queue/index.js";
import { dashboardRoutes, loadDashboardSessionSecret } from "./dashboard.js";

export interface WebServerDeps {
  config: Config;
  logger: Logger;
  store: IssuerStore;
  /** The pipeline's queues; absent when only the issuing store is served. */
  queues?: PatrolQueues | null;
  /** The GitHub App; null when none is configured (the webhook route then says how to set one up). */
  probot?: Probot | null;
  /** "worker": health, readiness and metrics only. Default "web". */
  role?: "web" | "worker";
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

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The admin API's history scans: the same reference and queue as `patrol scan-repo`. */
function historyScanStarter(probot: Probot, queues: PatrolQueues): HistoryScanStarter {
  return {
    async start(fullName) {
      let ref: Awaited<ReturnType<typeof manualHistoryReference>>;
      try {
        ref = await manualHistoryReference(probot, fullName, `manual-${randomUUID()}`);
      } catch (error) {
        if (error instanceof AppNotInstalledError) return null;
        throw error;
      }
      const jobId = await queues.enqueueHistory(ref);
      return { jobId, repository: ref.repository.fullName, private: ref.repository.private };
    },
  };
}

export async function buildWebServer(deps: WebServerDeps): Promise<FastifyInstance> {
  const { config, logger, store, queues } = deps;
  const { requestTimeoutMs, connectionTimeoutMs, timeoutCheckIntervalMs, maxConnections } = {
    ...SERVER_LIMITS,
    ...deps.limits,
  };
  const app: FastifyInstance = Fastify({
    loggerInstance: logger.child({}, { serializers: { req: loggedRequest } }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Behind a reverse proxy, client addresses (for the failed-authentication throttle) come from X-Forwarded-For.
    trustProxy: config.http.trustProxy,
    // Azure DevOps routes ignore case (its own examples use /_apis/Tokens/Pats).
    routerOptions: { caseSensitive: false },
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
    const problems: string[] = [];
    try {
      await withTimeout(store.db.query("select 1"), 2000, "the database");
    } catch (error) {
      logger.warn({ err: error }, "readiness check failed: database unreachable");
      problems.push("database unreachable");
    }
    if (queues) {
      try {
        await withTimeout(queues.connection.ping(), 2000, "Redis");
      } catch (error) {
        logger.warn({ err: error }, "readiness check failed: Redis unreachable");
        problems.push("redis unreachable");
      }
    }
    if (problems.length > 0)
      return reply.code(503).send({ status: "unavailable", reason: problems.join(", ") });
    return { status: "ready" };
  });

  app.get("/metrics", async (_request, reply) => {
    if (queues)
      await queues.refreshMetrics().catch((error) => logger.warn({ err: error }, "queue counts unavailable"));
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  if (deps.role === "worker") return app;

  await app.register(issuerRoutes, {
    store,
    config,
    logger,
    historyScans: queues && deps.probot ? historyScanStarter(deps.probot, queues) : null,
  });

  if (queues) {
    const outcomes = new Map<string, WebhookOutcome>();
    const probot = deps.probot ?? null;
    if (probot) {
      await probot.load(
        patrolApp(queues, {
          scanPrivate: config.github.scanPrivate,
          outcomes,
        }),
      );
    }
    await app.register(githubWebhookRoutes, { probot, outcomes });
    await app.register(secretScanningRoutes, {
      keys: new SecretScanningKeys({ apiBaseUrl: config.github.apiBaseUrl }),
      store,
      enqueueLeaks: async (reports) => {
        await queues.respond.addBulk(reports.map(respondJob));
      },
    });
    await app.register(dashboardRoutes, {
      queues: queues.all,
      adminKey: config.auth.adminKey,
      viewerKey: config.dashboard.viewerKey,
      sessionSecret: loadDashboardSessionSecret(config),
      secureCookies: config.dashboard.secureCookies,
    });
  }
  return app;
}
