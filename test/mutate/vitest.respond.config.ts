// What StrykerJS runs against the pipeline's decision code (stryker.respond.config.mjs): the respond suite on a
// real store and the collector's own suite. The pipeline suites (push, history, secret scanning) reach the same
// code through BullMQ, a fake GitHub and SMTP; they prove the stages fit together, and at seconds per test they
// are too slow to run per mutant. No global setup: these two need neither Redis nor a build.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/respond/**/*.test.ts", "test/queue/leak-reports.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
