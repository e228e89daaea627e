/**
 * Shared set-up for the whole test run.
 *
 * First it builds `dist/`: the CLI and server tests run the built program, so a stale or missing build must
 * never be what they test. PATROL_TEST_NO_BUILD=1 skips the build for runs that start no child processes
 * (mutation testing, see vitest.mutate.config.ts).
 *
 * Then one real Redis for every suite: REDIS_URL when given (CI can point at a server of its own), else a
 * private `redis-server` on a free port, stopped at the end. Suites isolate themselves with a queue prefix of
 * their own (see `test/support/redis.ts`).
 *
 * And a PostgreSQL server for the suites that run several patrol processes (`test/support/private-postgres.ts`):
 * the machine's when it takes user postgres, else a private cluster, so a fresh machine runs them too.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startPrivateRedis } from "../../src/queue/redis-server.js";
import { testPostgres } from "./private-postgres.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    /** A server for scratch databases of suites that run several patrol processes. */
    postgresUrl: string;
  }
}

/** `tsc -p tsconfig.build.json`, as `npm run build` does; its errors fail the run before any test. */
function buildDist(root: string): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.PATROL_TEST_NO_BUILD !== "1") buildDist(project.config.root);
  const postgres = await testPostgres(project.config.root);
  project.provide("postgresUrl", postgres.url);
  const given = process.env.REDIS_URL;
  if (given) {
    project.provide("redisUrl", given);
    return () => postgres.stop();
  }
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-test-redis-"));
  const redis = await startPrivateRedis({ dir, persist: false });
  project.provide("redisUrl", redis.url);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    await postgres.stop();
  };
}
