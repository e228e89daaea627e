/**
 * The running service: composes the stages into `patrol start` (web + workers), `patrol web` or `patrol worker`
 * on one configuration. Opens everything in order and, on stop, closes it in reverse: no new webhooks first,
 * then the workers finish their active jobs, then connections close.
 */
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Probot } from "probot";
import { type Config, ConfigError, sharedRedis } from "../config.js";
import { createGitHubApp } from "../github/index.js";
import {
  assertPostgresReachable,
  type IssuerStore,
  openIssuerStore,
  scheduleIssuerMaintenance,
} from "../issuer/index.js";
import {
  checkEvictionPolicy,
  describeRedis,
  openQueues,
  type PatrolQueues,
  type PrivateRedis,
  type RedisTarget,
  type RunningWorkers,
  scheduleRedelivery,
  startPrivateRedis,
  startWorkers,
  waitForRedis,
} from "../queue/index.js";
import { createMailer } from "../respond/index.js";
import { buildWebServer } from "../web/server.js";

export type ServiceMode = "start" | "web" | "worker";

export class ServiceConfigError extends Error {
  override name = "ServiceConfigError";
}

export const GITHUB_SETUP_HINT =
  "no GitHub App configured (APP_ID, PRIVATE_KEY, WEBHOOK_SECRET): webhooks answer 503 until one is. " +
  "Register one from app.yml (README, GitHub App set-up), then restart with its id, key and secret.";

export interface RunningService {
  mode: ServiceMode;
  /** `http://host:port` of the HTTP server. */
  url: string;
  app: FastifyInstance;
  store: IssuerStore;
  queues: PatrolQueues;
  workers: RunningWorkers | null;
  probot: Probot | null;
  /** The Redis the queues are on: a URL or a cluster's nodes. */
  redis: RedisTarget;
  /** The Redis server's URL; on a cluster, the first seed node's. */
  redisUrl: string;
  stop(): Promise<void>;
}

/**
 * What production will not start without, all listed at once: a webhook secret and someone who may administer
 * (for the processes that answer HTTP), and a database the processes can share.
 */
export function productionProblems(mode: ServiceMode, config: Config): string[] {
  if (config.env !== "production") return [];
  const problems: string[] = [];
  if (mode !== "worker") {
    if (!config.github.webhookSecret)
      problems.push("WEBHOOK_SECRET is required in production (the secret of the GitHub App's webhooks)");
    if (!config.auth.adminKey && !config.auth.oidc.issuer)
      problems.push(
        "PATROL_ADMIN_KEY or OIDC_ISSUER is required in production: without either nobody can call the lifecycle or admin API",
      );
  }
  if (mode !== "start" && !config.databaseUrl)
    problems.push(
      `DATABASE_URL is required for patrol ${mode} in production: separate processes cannot share the embedded PGlite`,
    );
  return problems;
}

async function redisFor(
  mode: ServiceMode,
  config: Config,
  logger: Logger,
): Promise<PrivateRedis | RedisTarget> {
  const shared = sharedRedis(config);
  if (shared) return shared;
  if (mode !== "start")
    throw new ServiceConfigError(
      `patrol ${mode} shares its queues with other processes: set REDIS_URL or REDIS_CLUSTER_NODES (patrol start runs a private Redis)`,
    );
  const server = await startPrivateRedis({ dir: path.join(config.dataDir, "redis") });
  logger.info({ url: server.url }, "started a private redis-server (set REDIS_URL to use your own)");
  return server;
}

function isPrivateRedis(redis: PrivateRedis | RedisTarget): redis is PrivateRedis {
  return typeof redis !== "string" && "stop" in redis;
}

export async function startService(
  mode: ServiceMode,
  config: Config,
  logger: Logger,
): Promise<RunningService> {
  // Opened in order, closed in reverse: whatever was opened is closed if a later step fails.
  const closers: (() => Promise<unknown> | unknown)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => {});
  };
  const problems = productionProblems(mode, config);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  try {
    // A dead database server is named at once, rather than left to the first query's endless wait.
    if (config.databaseUrl) await assertPostgresReachable(config.databaseUrl);
    // The store first: on PGlite it takes the data directory's lock, which the private Redis lives under too.
    const store = await openIssuerStore({ config, logger });
    closers.push(() => store.close());
    const redis = await redisFor(mode, config, logger);
    const target: RedisTarget = isPrivateRedis(redis) ? redis.url : redis;
    if (isPrivateRedis(redis)) closers.push(() => redis.stop());
    const queues = openQueues({ redis: target, prefix: config.queue.prefix, logger });
    closers.push(() => queues.close());
    await waitForRedis(queues.connection, 10_000, describeRedis(target)).catch((error) => {
      throw new Error(
        `${(error as Error).message}: check ${typeof target === "string" ? "REDIS_URL" : "REDIS_CLUSTER_NODES"}`,
      );
    });
    await checkEvictionPolicy(queues.connection, logger);
    const probot = createGitHubApp(config, logger);
    if (!probot) logger.warn(GITHUB_SETUP_HINT);

    let workers: RunningWorkers | null = null;
    if (mode !== "web") {
      const mailer = createMailer({
        smtpUrl: config.mail.smtpUrl,
        from: config.mail.from,
        outboxDir: path.join(config.dataDir, "outbox"),
        logger,
      });
      closers.push(() => mailer.close());
      const running = startWorkers({
        redis: target,
        prefix: config.queue.prefix,
        queues,
        store,
        mailer,
        github: probot
          ? {
              installationClient: (id) => probot.auth(id),
              appClient: () => probot.auth(),
              installationToken: async (id) => {
                // As the app (JWT): a token of its own for git, on the configured API (GHE-aware).
                const app = await probot.auth();
                const response = await app.request(
                  "POST /app/installations/{installation_id}/access_tokens",
                  {
                    installation_id: id,
                  },
                );
                return response.data.token;
              },
            }
          : null,
        logger,
        concurrency: {
          scan: config.queue.scanConcurrency,
          respond: config.queue.respondConcurrency,
          history: config.github.history.concurrency,
        },
        maxBlobBytes: config.github.maxBlobBytes,
        history: {
          webBaseUrl: config.github.webBaseUrl,
          tempDir: config.github.history.tempDir,
          maxCloneBytes: config.github.history.maxCloneBytes,
        },
      });
      workers = running;
      closers.push(() => running.close());
      // Every worker process upserts the one scheduler (idempotent); without a GitHub App it is removed.
      await scheduleRedelivery(queues.redelivery, probot ? config.github.redeliveryIntervalMs : null);
    }
    if (mode !== "worker") closers.push(scheduleIssuerMaintenance(store));

    const app = await buildWebServer({
      config,
      logger,
      store,
      queues,
      probot,
      role: mode === "worker" ? "worker" : "web",
    });
    try {
      await app.listen({ host: config.http.host, port: config.http.port });
    } catch (error) {
      throw new Error(
        `cannot listen on ${config.http.host}:${config.http.port}: ${(error as Error).message}`,
      );
    }
    closers.push(() => app.close());
    const address = app.server.address();
    const url =
      typeof address === "object" && address
        ? `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`
        : String(address);
    const redisUrl =
      typeof target === "string" ? target : `redis://${target.nodes[0].host}:${target.nodes[0].port}`;
    return { mode, url, app, store, queues, workers, probot, redis: target, redisUrl, stop: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
