// What StrykerJS runs against the token and detector code (stryker.config.mjs): their own suites, in-process.
// No global setup: these suites need neither Redis nor a build.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/tokens.test.ts", "test/tokens/**/*.test.ts", "test/detect/**/*.test.ts"],
    // The multi-megabyte stress inputs take minutes under instrumentation; cuts.test.ts covers the cut path.
    exclude: ["test/detect/boundaries.test.ts", "test/detect/giant-lines.test.ts"],
    testTimeout: 60_000,
  },
});
