/**
 * The queues between the stages (BullMQ on Redis): `scan` (push references), `history` (whole-history scans),
 * `respond` (leaked tokens by fingerprint), `notify` (owner notices), and `redelivery` (the scheduled recovery
 * of webhooks patrol failed to take). Each queue's module owns its name, job type, options and processor.
 */
export {
  checkEvictionPolicy,
  describeRedis,
  type RedisClient,
  type RedisTarget,
  redisConnection,
  waitForRedis,
} from "./connection.js";
export {
  HISTORY_QUEUE,
  type HistoryAccess,
  type HistoryJobData,
  type HistoryJobResult,
  type HistoryProgress,
  historyJob,
} from "./history.js";
export { NOTIFY_QUEUE, type NotifyJobData, noticeJob } from "./notify.js";
export { openQueues, type PatrolQueues } from "./queues.js";
export {
  REDELIVERY_QUEUE,
  REDELIVERY_SCHEDULER_ID,
  type RedeliveryAccess,
  redisRedeliveryState,
  requestRedeliveryRun,
  scheduleRedelivery,
} from "./redelivery.js";
export { type PrivateRedis, RedisServerError, startPrivateRedis } from "./redis-server.js";
export { MAX_LOCATIONS_PER_JOB, RESPOND_QUEUE, type RespondJobData, respondJob } from "./respond.js";
export { type GitHubAccess, SCAN_QUEUE, type ScanJobData, type ScanJobResult, scanJob } from "./scan.js";
export { type RunningWorkers, startWorkers, WORKER_STALL_OPTIONS, type WorkerDeps } from "./workers.js";
