/** The test run's Redis (see global-setup.ts) and a queue prefix of this suite's own, so suites never collide. */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";

export function testRedisUrl(): string {
  return inject("redisUrl");
}

/** A BullMQ prefix unique to the caller; hash-tagged like production's `{patrol}`. */
export function uniqueQueuePrefix(label = "test"): string {
  return `{patrol-${label}-${randomBytes(4).toString("hex")}}`;
}
