/**
 * Redis connections for BullMQ, to one server (a URL) or a Redis Cluster (its seed nodes). Workers block on Redis
 * and must wait out a restart (`maxRetriesPerRequest: null`); producers answer a webhook and must fail fast when
 * Redis is away, so the delivery fails and is redelivered instead of hanging.
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { RedisClusterConfig } from "../config.js";

export type ConnectionRole = "worker" | "producer";

/** Where Redis is: a `redis://` URL of one server, or a cluster's seed nodes. */
export type RedisTarget = string | RedisClusterConfig;

/** A connection to either; BullMQ, the rate limiter and readiness checks take both. */
export type RedisClient = Redis | Cluster;

const retryDelay = (times: number) => Math.min(200 * 2 ** times, 5000);

export function redisConnection(target: RedisTarget, role: ConnectionRole, logger?: Logger): RedisClient {
  const options: RedisOptions =
    role === "worker"
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000 };
  const redis =
    typeof target === "string"
      ? new Redis(target, { ...options, retryStrategy: retryDelay })
      : clusterConnection(target, options);
  // ioredis reconnects by itself; without a listener every failed attempt is an "unhandled error event".
  let lastMessage = "";
  const report = (error: Error) => {
    if (error.message === lastMessage) return;
    lastMessage = error.message;
    logger?.warn({ role, reason: error.message }, "Redis connection error (reconnecting)");
  };
  redis.on("error", report);
  // A cluster reports each node's trouble apart; the node is named in the log, never credentials.
  if (redis instanceof Cluster) redis.on("node error", report);
  redis.on("ready", () => {
    lastMessage = "";
  });
  return redis;
}

function clusterConnection(cluster: RedisClusterConfig, options: RedisOptions): Cluster {
  const { enableOfflineQueue, enableReadyCheck, ...perNode } = options;
  return new Cluster(cluster.nodes, {
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableReadyCheck: enableReadyCheck ?? true,
    clusterRetryStrategy: retryDelay,
    redisOptions: {
      ...perNode,
      username: cluster.username,
      password: cluster.password,
      ...(cluster.tls ? { tls: {} } : {}),
    },
  });
}

/** Names what a connection talks to, for error messages: host and port, never credentials. */
export function describeRedis(target: RedisTarget): string {
  if (typeof target !== "string")
    return `the Redis Cluster at ${target.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`;
  try {
    const url = new URL(target);
    return `Redis at ${url.hostname}:${url.port || 6379}`;
  } catch {
    return "Redis";
  }
}

/** Resolves once the connection is ready, or rejects after `timeoutMs` saying what was not reachable. */
export async function waitForRedis(redis: RedisClient, timeoutMs = 10_000, what?: string): Promise<void> {
  if (redis.status === "ready") return;
  const name =
    what ??
    (redis instanceof Cluster ? "the Redis Cluster" : `Redis at ${redis.options.host}:${redis.options.port}`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${name} is not reachable`));
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

/**
 * BullMQ loses jobs if Redis evicts keys: say so loudly unless `maxmemory-policy` is `noeviction` — on a cluster,
 * on every master (the queues live on one, the rate-limit counters on all). Returns the policies found.
 */
export async function checkEvictionPolicy(redis: RedisClient, logger: Logger): Promise<(string | null)[]> {
  const servers = redis instanceof Cluster ? redis.nodes("master") : [redis];
  const policies: (string | null)[] = [];
  for (const server of servers) {
    const node = `${server.options.host}:${server.options.port}`;
    try {
      const reply = (await server.config("GET", "maxmemory-policy")) as string[];
      const policy = reply[1] ?? null;
      if (policy !== "noeviction")
        logger.warn(
          { policy, node },
          "Redis maxmemory-policy is not noeviction: queued jobs can be evicted and leaks lost; set it to noeviction",
        );
      policies.push(policy);
    } catch (error) {
      // Managed Redis services often forbid CONFIG: nothing to check, but say so.
      logger.warn({ err: error, node }, "cannot read Redis maxmemory-policy; make sure it is noeviction");
      policies.push(null);
    }
  }
  return policies;
}
