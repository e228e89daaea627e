/**
 * Shared set-up for the whole test run: one real Redis for every suite. REDIS_URL when given (CI can point at
 * a server of its own), else a private `redis-server` on a free port, stopped at the end. Suites isolate
 * themselves with a queue prefix of their own (see `test/support/redis.ts`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startPrivateRedis } from "../../src/queue/redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.REDIS_URL;
  if (given) {
    project.provide("redisUrl", given);
    return async () => {};
  }
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-test-redis-"));
  const redis = await startPrivateRedis({ dir, persist: false });
  project.provide("redisUrl", redis.url);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
