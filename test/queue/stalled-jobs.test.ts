/**
 * A job whose worker dies mid-job stalls and is handed to another worker. patrol's workers are killed again and
 * again in the chaos run (`npm run chaos`); with BullMQ's default (`maxStalledCount` 1) a job that stalled twice
 * was failed for good — a lost leak. On the test run's real Redis, with short locks so a stall takes a second.
 */
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { WORKER_STALL_OPTIONS } from "../../src/queue/index.js";
import { testRedisUrl, uniqueQueuePrefix } from "../support/redis.js";

const connections: Redis[] = [];
function connection(): Redis {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  connections.push(redis);
  return redis;
}
afterAll(() => {
  for (const c of connections) c.disconnect();
});

/** Adds one job, lets `stalls` workers take it and die holding it, then lets a healthy worker run it. */
async function abandonedThenRun(stalls: number, maxStalledCount: number | undefined) {
  const prefix = uniqueQueuePrefix("stall");
  const fast = { prefix, lockDuration: 300, stalledInterval: 150 };
  const queue = new Queue("scan", { connection: connection(), prefix });
  await queue.add("push", { n: 1 }, { jobId: "push-1", attempts: 3 });
  // The stalled check runs in every worker: this one only sweeps (it never takes a job).
  const sweeper = new Worker("scan", null, {
    ...fast,
    connection: connection(),
    ...(maxStalledCount === undefined ? {} : { maxStalledCount }),
  });
  await sweeper.startStalledCheckTimer();
  for (let i = 0; i < stalls; i++) {
    const doomed = new Worker("scan", null, { ...fast, connection: connection() });
    const job = await doomed.getNextJob(`doomed-${i}`);
    expect(job?.id).toBe("push-1");
    await doomed.close(true); // dies holding the job: no completion, no lock renewal
    for (let t = 0; t < 100 && (await queue.getJobState("push-1")) === "active"; t++)
      await new Promise((r) => setTimeout(r, 50));
  }
  const healthy = new Worker("scan", async () => "scanned", {
    ...fast,
    connection: connection(),
    autorun: false,
  });
  const outcome = new Promise<string>((resolve) => {
    healthy.on("completed", () => resolve("completed"));
    healthy.on("failed", (_job, error) => resolve(`failed: ${error.message}`));
  });
  void healthy.run();
  const result = await outcome;
  await Promise.all([healthy.close(), sweeper.close(true), queue.close()]);
  return result;
}

describe("stalled jobs", () => {
  it("with BullMQ's default, a job abandoned twice is failed for good (what the setting guards against)", async () => {
    expect(await abandonedThenRun(2, undefined)).toBe("failed: job stalled more than allowable limit");
  });

  it("with patrol's workers' setting, a job abandoned three times still runs", async () => {
    expect(await abandonedThenRun(3, WORKER_STALL_OPTIONS.maxStalledCount)).toBe("completed");
  });
});
