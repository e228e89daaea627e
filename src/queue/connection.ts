/**
 * Redis connections for BullMQ. Workers block on Redis and must wait out a restart (`maxRetriesPerRequest:
 * null`); producers answer a webhook and must fail fast when Redis is away, so the delivery fails and is
 * redelivered instead of hanging.
 */
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";

export type ConnectionRole = "worker" | "producer";

export function redisConnection(url: string, role: ConnectionRole, logger?: Logger): Redis {
  const options: RedisOptions =
    role === "worker"
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 };
  const redis = new Redis(url, { ...options, retryStrategy: (times) => Math.min(200 * 2 ** times, 5000) });
  // ioredis reconnects by itself; without a listener every failed attempt is an "unhandled error event".
  let lastMessage = "";
  redis.on("error", (error: Error) => {
    if (error.message === lastMessage) return;
    lastMessage = error.message;
    logger?.warn({ role, reason: error.message }, "Redis connection error (reconnecting)");
  });
  redis.on("ready", () => {
    lastMessage = "";
  });
  return redis;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs` with a message naming the URL's host. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis at ${redis.options.host}:${redis.options.port} is not reachable`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off("ready", onReady);
    };
    redis.on("ready", onReady);
  });
}

/** BullMQ loses jobs if Redis evicts keys: say so loudly unless `maxmemory-policy` is `noeviction`. */
export async function checkEvictionPolicy(redis: Redis, logger: Logger): Promise<string | null> {
  try {
    const reply = (await redis.config("GET", "maxmemory-policy")) as string[];
    const policy = reply[1] ?? null;
    if (policy !== "noeviction")
      logger.warn(
        { policy },
        "Redis maxmemory-policy is not noeviction: queued jobs can be evicted and leaks lost; set it to noeviction",
      );
    return policy;
  } catch (error) {
    // Managed Redis services often forbid CONFIG: nothing to check, but say so.
    logger.warn({ err: error }, "cannot read Redis maxmemory-policy; make sure it is noeviction");
    return null;
  }
}
