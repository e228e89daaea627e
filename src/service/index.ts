/**
 * The running service: composes the stages into `patrol start` (web + workers), `patrol web` or `patrol worker`
 * on one configuration. Opens everything in order and, on stop, closes it in reverse: no new webhooks first,
 * then the workers finish their active jobs, then connections close.
 */
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Probot } from "probot";
import type { Config } from "../config.js";
import { createGitHubApp } from "../github/index.js";
import { type IssuerStore, openIssuerStore, scheduleIssuerMaintenance } from "../issuer/index.js";
import {
  checkEvictionPolicy,
  openQueues,
  type PatrolQueues,
  type PrivateRedis,
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
  redisUrl: string;
  stop(): Promise<void>;
}

async function redisFor(mode: ServiceMode, config: Config, logger: Logger): Promise<PrivateRedis | string> {
  if (config.redisUrl) return config.redisUrl;
  if (mode !== "start")
    throw new ServiceConfigError(
      `patrol ${mode} shares its queues with other processes: set REDIS_URL (patrol start runs a private Redis)`,
    );
  const server = await startPrivateRedis({ dir: path.join(config.dataDir, "redis") });
  logger.info({ url: server.url }, "started a private redis-server (set REDIS_URL to use your own)");
  return server;
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
  try {
    // The store first: on PGlite it takes the data directory's lock, which the private Redis lives under too.
    const store = await openIssuerStore({ config, logger });
    closers.push(() => store.close());
    const redis = await redisFor(mode, config, logger);
    const redisUrl = typeof redis === "string" ? redis : redis.url;
    if (typeof redis !== "string") closers.push(() => redis.stop());
    const queues = openQueues({ redisUrl, prefix: config.queue.prefix, logger });
    closers.push(() => queues.close());
    await waitForRedis(queues.connection).catch((error) => {
      throw new Error(`${(error as Error).message}: check REDIS_URL`);
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
        redisUrl,
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
    return { mode, url, app, store, queues, workers, probot, redisUrl, stop: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
