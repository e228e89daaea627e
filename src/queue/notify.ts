/**
 * The `notify` queue: the owner's notice, one job per incident (named after the token's fingerprint, so asking
 * twice queues it once). It retries with backoff until the mail goes out; the revocation is long done.
 */
import type { Job, JobsOptions } from "bullmq";
import { type NoticeDeps, type NoticeOutcome, sendLeakNotice } from "../respond/index.js";

export const NOTIFY_QUEUE = "notify";
export interface NotifyJobData {
  fingerprint: string;
}

export function noticeJob(fingerprint: string): { name: string; data: NotifyJobData; opts: JobsOptions } {
  return {
    name: "notice",
    data: { fingerprint },
    opts: {
      jobId: `notice-${fingerprint}`,
      // ~2 days of retries (5 s doubling, 15 attempts) before the failure is left for people to see.
      attempts: 15,
      backoff: { type: "exponential", delay: 5000, jitter: 0.3 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    },
  };
}

export function processNotifyJob(deps: NoticeDeps, job: Job<NotifyJobData>): Promise<NoticeOutcome> {
  return sendLeakNotice(deps, job.data.fingerprint);
}
