/**
 * Real BullMQ queues named like patrol's (`scan`, `respond`) on the test run's Redis, under a prefix of their
 * own, each holding one completed and one failed job; and a Fastify app with the dashboard mounted on them.
 */
import { type Job, Queue, Worker } from "bullmq";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { type DashboardOptions, dashboardRoutes } from "../../src/web/dashboard.js";
import { testRedisUrl, uniqueQueuePrefix } from "../support/redis.js";

export interface QueuesWithJobs {
  scan: Queue;
  respond: Queue;
  prefix: string;
  /** Ids of the failed and the completed job in each queue. */
  failed: { scan: string; respond: string };
  completed: { scan: string; respond: string };
  close(): Promise<void>;
}

async function settle(
  queue: Queue,
  connection: Redis,
  prefix: string,
): Promise<{ failed: string; completed: string }> {
  const done = await queue.add("scan-push", { repository: "octo/app", after: "0f3c9a1", delivery: "d-1" });
  const failing = await queue.add(
    "scan-push",
    { repository: "octo/app", after: "77ab12e", delivery: "d-2", fail: true },
    { attempts: 1 },
  );
  const worker = new Worker(
    queue.name,
    async (job: Job) => {
      if (job.data.fail) throw new Error("planned failure: the fake GitHub answered 500");
      return { scanned: 1 };
    },
    { connection: connection.duplicate({ maxRetriesPerRequest: null }), prefix },
  );
  try {
    for (let i = 0; i < 200; i++) {
      const counts = await queue.getJobCounts("completed", "failed");
      if (counts.completed === 1 && counts.failed === 1) break;
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    // Stopped before the tests: a retried job must stay waiting, not be processed (and fail) again.
    await worker.close();
    await (worker.opts.connection as Redis).quit();
  }
  if ((await failing.getState()) !== "failed") throw new Error("fixture: the failing job did not fail");
  if ((await done.getState()) !== "completed") throw new Error("fixture: the job did not complete");
  return { failed: failing.id!, completed: done.id! };
}

export async function queuesWithJobs(label: string): Promise<QueuesWithJobs> {
  const prefix = uniqueQueuePrefix(label);
  // Fail fast with the reason when the test Redis is unreachable, rather than time out in a hook.
  const connection = new Redis(testRedisUrl(), {
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    retryStrategy: (attempt) => (attempt > 3 ? null : 100),
  });
  await connection.connect();
  const scan = new Queue("scan", { connection, prefix });
  const respond = new Queue("respond", { connection, prefix });
  const [s, r] = await Promise.all([settle(scan, connection, prefix), settle(respond, connection, prefix)]);
  return {
    scan,
    respond,
    prefix,
    failed: { scan: s.failed, respond: r.failed },
    completed: { scan: s.completed, respond: r.completed },
    async close() {
      await scan.obliterate({ force: true });
      await respond.obliterate({ force: true });
      await scan.close();
      await respond.close();
      await connection.quit();
    },
  };
}

export const ADMIN_KEY = "admin-key-for-dashboard-tests-0123";
export const VIEWER_KEY = "viewer-key-for-dashboard-tests-4567";

export async function dashboardApp(
  queues: QueuesWithJobs,
  overrides: Partial<DashboardOptions> = {},
  logger?: Logger,
): Promise<FastifyInstance> {
  const app = logger ? Fastify({ loggerInstance: logger as FastifyBaseLogger }) : Fastify({ logger: false });
  app.get("/healthz", async () => ({ status: "ok" }));
  await app.register(dashboardRoutes, {
    queues: [queues.scan, queues.respond],
    adminKey: ADMIN_KEY,
    viewerKey: VIEWER_KEY,
    sessionSecret: "a-session-secret-of-at-least-32-characters",
    secureCookies: false,
    ...overrides,
  });
  await app.ready();
  return app;
}
