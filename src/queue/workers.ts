/**
 * The workers of `patrol worker` (and `patrol start`): one BullMQ Worker per queue on its own blocking
 * connection. A processor throws to retry (backoff from the job's options); jobs of a killed worker are
 * stalled and picked up by another after the lock expires.
 */
import { type Processor, Worker } from "bullmq";
import type { Logger } from "pino";
import type { IssuerStore } from "../issuer/index.js";
import { jobsProcessed } from "../metrics/index.js";
import { FingerprintLookup, type Mailer } from "../respond/index.js";
import { type RedisClient, type RedisTarget, redisConnection } from "./connection.js";
import { HISTORY_QUEUE, type HistoryAccess, processHistoryJob } from "./history.js";
import { NOTIFY_QUEUE, processNotifyJob } from "./notify.js";
import type { PatrolQueues } from "./queues.js";
import { delayWhenRateLimited } from "./rate-limited.js";
import { processRedeliveryJob, REDELIVERY_QUEUE, type RedeliveryAccess } from "./redelivery.js";
import { processRespondJob, RESPOND_QUEUE } from "./respond.js";
import { type GitHubAccess, processScanJob, SCAN_QUEUE } from "./scan.js";

/**
 * BullMQ fails a job for good ("job stalled more than allowable limit") once it has stalled more than
 * `maxStalledCount` times (default 1): a job whose worker is killed twice would be a lost leak. Every step is
 * idempotent, so running a job again is safe; the limit stays finite so a job that itself kills its worker
 * (out of memory, say) ends in the failed set, visible, instead of taking workers down forever.
 */
export const WORKER_STALL_OPTIONS = { maxStalledCount: 10 } as const;

export interface WorkerDeps {
  /** A Redis URL or a cluster's nodes. */
  redis: RedisTarget;
  prefix: string;
  queues: PatrolQueues;
  store: IssuerStore;
  mailer: Mailer;
  /** Null without a GitHub App: scan jobs fail with a reason (and stay visible) instead of vanishing. */
  github: (GitHubAccess & HistoryAccess & RedeliveryAccess) | null;
  logger: Logger;
  concurrency: { scan: number; respond: number; notify?: number; history?: number };
  maxBlobBytes: number;
  history: { webBaseUrl: string; tempDir: string; maxCloneBytes: number };
}

export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs and waits for active ones (BullMQ returns unfinished ones to the queue via stall checks). */
  close(): Promise<void>;
}

export function startWorkers(deps: WorkerDeps): RunningWorkers {
  const lookup = new FingerprintLookup(deps.store);
  const connections: RedisClient[] = [];
  const make = <T>(name: string, processor: Processor<T>, concurrency: number) => {
    const connection = redisConnection(deps.redis, "worker", deps.logger);
    connections.push(connection);
    const worker = new Worker<T>(name, processor, {
      connection,
      prefix: deps.prefix,
      concurrency,
      ...WORKER_STALL_OPTIONS,
    });
    worker.on("completed", () => jobsProcessed.inc({ queue: name, result: "completed" }));
    worker.on("failed", (job, error) => {
      // An UnrecoverableError (BullMQ's own, e.g. for a job stalled too often) is not retried, whatever attempts say.
      const final =
        !job || error.name === "UnrecoverableError" || job.attemptsMade >= (job.opts.attempts ?? 1);
      jobsProcessed.inc({ queue: name, result: final ? "failed" : "retrying" });
      deps.logger[final ? "error" : "warn"](
        { queue: name, job: job?.id, attempt: job?.attemptsMade, reason: error.message },
        final ? "job failed for good" : "job failed; will retry",
      );
    });
    worker.on("error", (error) => deps.logger.error({ queue: name, err: error }, "worker error"));
    return worker;
  };
  const log = deps.logger;
  // Without an app the jobs fail with this reason (and stay visible) instead of vanishing.
  const githubFor = (what: string) => {
    if (!deps.github) throw new Error(`no GitHub App is configured (APP_ID, PRIVATE_KEY): cannot ${what}`);
    return deps.github;
  };
  const workers = [
    make(
      SCAN_QUEUE,
      (job, token) => {
        const github = githubFor("read the push");
        const logger = log.child({ queue: SCAN_QUEUE });
        return delayWhenRateLimited(job, token, logger, () =>
          processScanJob(
            { github, respondQueue: deps.queues.respond, maxBlobBytes: deps.maxBlobBytes, logger },
            job as never,
          ),
        );
      },
      deps.concurrency.scan,
    ),
    make(
      HISTORY_QUEUE,
      (job, token) => {
        const github = githubFor("clone the repository");
        const logger = log.child({ queue: HISTORY_QUEUE });
        return delayWhenRateLimited(job, token, logger, () =>
          processHistoryJob(
            { github, respondQueue: deps.queues.respond, ...deps.history, logger },
            job as never,
          ),
        );
      },
      deps.concurrency.history ?? 1,
    ),
    make(
      RESPOND_QUEUE,
      (job) =>
        processRespondJob(
          {
            store: deps.store,
            lookup,
            notifyQueue: deps.queues.notify,
            logger: log.child({ queue: RESPOND_QUEUE }),
          },
          job as never,
        ),
      deps.concurrency.respond,
    ),
    make(
      NOTIFY_QUEUE,
      (job) =>
        processNotifyJob(
          { store: deps.store, mailer: deps.mailer, logger: log.child({ queue: NOTIFY_QUEUE }) },
          job as never,
        ),
      deps.concurrency.notify ?? 4,
    ),
    make(
      REDELIVERY_QUEUE,
      (job) => {
        const github = githubFor("list webhook deliveries");
        return processRedeliveryJob(
          {
            github,
            redis: deps.queues.connection,
            prefix: deps.prefix,
            logger: log.child({ queue: REDELIVERY_QUEUE }),
          },
          job,
        );
      },
      1,
    ),
  ];
  return {
    workers,
    async close() {
      const closing = Promise.all(workers.map((w) => w.close()));
      deps.logger.info("workers take no new jobs; waiting for the active ones to finish");
      await closing;
      // BullMQ leaves connections it was given open.
      for (const connection of connections) connection.disconnect();
    },
  };
}
