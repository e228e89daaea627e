/**
 * A job that meets one of GitHub's rate limits moves itself to delayed until GitHub may be called again (the
 * primary limit's reset, a secondary limit's `retry-after`) — BullMQ's DelayedError — instead of holding a
 * worker slot while it waits, or retrying early on its backoff, and without spending one of its attempts.
 */
import { DelayedError, type Job } from "bullmq";
import type { Logger } from "pino";
import { rateLimitWait } from "../github/index.js";
import { rateLimitDelays } from "../metrics/index.js";

/** GitHub resets primary limits within the hour: a wait further out is not believed. */
const MAX_DELAY_MS = 61 * 60 * 1000;
/** After the wait, so the jobs delayed by one limit do not all come back in the same millisecond. */
const SPREAD_MS = 1000;

export async function delayWhenRateLimited<T>(
  job: Job,
  token: string | undefined,
  logger: Logger,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const now = Date.now();
    const wait = rateLimitWait(error, now);
    if (wait === null || token === undefined) throw error;
    const until = Math.min(Math.max(wait.until, now) + 500 + Math.random() * SPREAD_MS, now + MAX_DELAY_MS);
    await job.moveToDelayed(Math.round(until), token);
    rateLimitDelays.inc({ queue: job.queueName, limit: wait.kind });
    logger.warn(
      { job: job.id, limit: wait.kind, until: new Date(until).toISOString() },
      "GitHub's rate limit was met: job delayed until GitHub may be called again",
    );
    throw new DelayedError();
  }
}
