/**
 * The `redelivery` queue: a BullMQ job scheduler that, every WEBHOOK_REDELIVERY_INTERVAL_SECONDS, asks GitHub to
 * redeliver the webhooks patrol failed to take (see `redeliverFailedDeliveries`). Global concurrency 1: one run
 * at a time across every worker process. Where a run left off and which GUIDs were redelivered live in Redis
 * under the queue prefix, so every replica shares them.
 */
import type { Job, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import {
  type GitHubClient,
  type RedeliveryRun,
  type RedeliveryState,
  redeliverFailedDeliveries,
} from "../github/index.js";
import { webhookRedeliveries } from "../metrics/index.js";

export const REDELIVERY_QUEUE = "redelivery";
export const REDELIVERY_SCHEDULER_ID = "redeliver-failed-webhooks";
const JOB_NAME = "redeliver-failed";
const JOB_OPTIONS = {
  // The next scheduled run is the retry.
  attempts: 1,
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
};

export interface RedeliveryAccess {
  /** An Octokit authenticated as the GitHub App itself (JWT), for `/app/hook/deliveries`. */
  appClient(): Promise<GitHubClient>;
}

/**
 * Turns the scheduler on (every `everyMs`) or, with `everyMs` null, off — so a deployment that drops the
 * GitHub App or the interval stops the runs instead of leaving a scheduler behind. Safe from every replica.
 */
export async function scheduleRedelivery(queue: Queue, everyMs: number | null): Promise<void> {
  if (everyMs === null) {
    await queue.removeJobScheduler(REDELIVERY_SCHEDULER_ID);
    return;
  }
  await queue.setGlobalConcurrency(1);
  await queue.upsertJobScheduler(
    REDELIVERY_SCHEDULER_ID,
    { every: everyMs },
    { name: JOB_NAME, data: {}, opts: JOB_OPTIONS },
  );
}

/** Queues one run now (besides the scheduled ones); returns its job id. */
export async function requestRedeliveryRun(queue: Queue): Promise<string> {
  const job = await queue.add(JOB_NAME, {}, JOB_OPTIONS);
  return String(job.id);
}

/** The run's memory in Redis: the newest `delivered_at` examined, and a sorted set of claimed GUIDs by time. */
export function redisRedeliveryState(redis: Redis, prefix: string): RedeliveryState {
  const sinceKey = `${prefix}:redelivery-state:since`;
  const claimedKey = `${prefix}:redelivery-state:claimed`;
  return {
    async since() {
      const value = await redis.get(sinceKey);
      return value === null ? null : Number(value);
    },
    async setSince(deliveredAt) {
      await redis.set(sinceKey, String(deliveredAt));
    },
    async claim(guid, now) {
      return (await redis.zadd(claimedKey, "NX", now, guid)) === 1;
    },
    async release(guid) {
      await redis.zrem(claimedKey, guid);
    },
    async prune(before) {
      await redis.zremrangebyscore(claimedKey, "-inf", `(${before}`);
    },
  };
}

export interface RedeliveryDeps {
  github: RedeliveryAccess;
  redis: Redis;
  prefix: string;
  logger: Logger;
}

export async function processRedeliveryJob(deps: RedeliveryDeps, _job: Job): Promise<RedeliveryRun> {
  const gh = await deps.github.appClient();
  const run = await redeliverFailedDeliveries(gh, redisRedeliveryState(deps.redis, deps.prefix), {
    logger: deps.logger,
    onRedelivered: (result) => webhookRedeliveries.inc({ result }),
  });
  if (run.redelivered + run.refused > 0) deps.logger.info(run, "webhook redelivery run");
  return run;
}
