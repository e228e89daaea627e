/**
 * The `respond` queue: one job per leaked token and source delivery (LeakReport: fingerprint, redacted form,
 * locations). The processor runs the response and, when the owner has not been told yet, queues the notice.
 */
import type { Job, JobsOptions, Queue } from "bullmq";
import { type LeakReport, type RespondDeps, type RespondOutcome, respondToLeak } from "../respond/index.js";
import { noticeJob } from "./notify.js";

export const RESPOND_QUEUE = "respond";
export type RespondJobData = LeakReport;

/** At most this many locations ride in one job (a token pasted into thousands of files is still one incident). */
export const MAX_LOCATIONS_PER_JOB = 1000;

export function respondJob(report: LeakReport): { name: string; data: RespondJobData; opts: JobsOptions } {
  const id = `leak-${report.correlationId}-${report.fingerprint}`;
  return {
    name: "leak",
    data: { ...report, locations: report.locations.slice(0, MAX_LOCATIONS_PER_JOB) },
    opts: {
      jobId: id,
      deduplication: { id, ttl: 3 * 24 * 3600 * 1000 },
      attempts: 20,
      backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    },
  };
}

export interface RespondQueueDeps extends RespondDeps {
  notifyQueue: Queue;
}

export async function processRespondJob(
  deps: RespondQueueDeps,
  job: Job<RespondJobData>,
): Promise<RespondOutcome> {
  const outcome = await respondToLeak(deps, job.data);
  if (outcome.ours && outcome.notify) {
    const notice = noticeJob(job.data.fingerprint);
    await deps.notifyQueue.add(notice.name, notice.data, notice.opts);
  }
  return outcome;
}
