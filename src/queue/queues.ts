/**
 * The queues, as producers see them: one BullMQ `Queue` per stage on a fail-fast connection, and the one
 * call the webhook intake makes. Every key starts with the configured prefix (hash-tagged for Redis Cluster).
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { HistoryReference, PushReference } from "../github/index.js";
import { jobsByState } from "../metrics/index.js";
import { redisConnection } from "./connection.js";
import { HISTORY_QUEUE, historyJob } from "./history.js";
import { NOTIFY_QUEUE } from "./notify.js";
import { REDELIVERY_QUEUE } from "./redelivery.js";
import { RESPOND_QUEUE } from "./respond.js";
import { SCAN_QUEUE, scanJob } from "./scan.js";

export interface PatrolQueues {
  scan: Queue;
  history: Queue;
  respond: Queue;
  notify: Queue;
  /** The scheduled webhook redelivery runs (one job scheduler). */
  redelivery: Queue;
  all: Queue[];
  /** The producers' connection (fail-fast), also used for readiness checks. */
  connection: Redis;
  enqueuePush(ref: PushReference): Promise<void>;
  /** Queues a whole-history scan; returns the job id (an existing one when that repository is already queued). */
  enqueueHistory(ref: HistoryReference): Promise<string>;
  /** Sets the `patrol_queue_jobs` gauge from Redis (called when /metrics is scraped). */
  refreshMetrics(): Promise<void>;
  close(): Promise<void>;
}

export function openQueues(options: { redisUrl: string; prefix: string; logger?: Logger }): PatrolQueues {
  const connection = redisConnection(options.redisUrl, "producer", options.logger);
  const open = (name: string) => {
    const queue = new Queue(name, { connection, prefix: options.prefix });
    // The connection's own listener reports the cause; without one, BullMQ's re-emitted errors go to stderr.
    queue.on("error", () => {});
    return queue;
  };
  const scan = open(SCAN_QUEUE);
  const history = open(HISTORY_QUEUE);
  const respond = open(RESPOND_QUEUE);
  const notify = open(NOTIFY_QUEUE);
  const redelivery = open(REDELIVERY_QUEUE);
  const all = [scan, history, respond, notify, redelivery];
  return {
    scan,
    history,
    respond,
    notify,
    redelivery,
    all,
    connection,
    async enqueuePush(ref) {
      const job = scanJob(ref);
      await scan.add(job.name, job.data, job.opts);
    },
    async enqueueHistory(ref) {
      const job = historyJob(ref);
      const added = await history.add(job.name, job.data, job.opts);
      return added.id ?? String(job.opts.jobId);
    },
    async refreshMetrics() {
      for (const queue of all) {
        const counts = await queue.getJobCounts(
          "waiting",
          "active",
          "delayed",
          "failed",
          "completed",
          "prioritized",
        );
        for (const [state, value] of Object.entries(counts))
          jobsByState.set({ queue: queue.name, state }, value);
      }
    },
    async close() {
      await Promise.all(all.map((q) => q.close()));
      connection.disconnect();
    },
  };
}
