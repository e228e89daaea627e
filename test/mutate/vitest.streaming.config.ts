// What StrykerJS runs against blocks.ts and stream-scanner.ts (stryker.streaming.config.mjs): the suites that
// cut and gather at the smallest sizes (cut-every-byte, small-blocks, blocks) and the small detector suites.
// cuts.test.ts (cuts after the real 1 MiB gathering) is left out: seconds per test under instrumentation.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/detect/blocks.test.ts",
      "test/detect/cut-every-byte.test.ts",
      "test/detect/small-blocks.test.ts",
      "test/detect/scanner.test.ts",
      "test/detect/diff.test.ts",
    ],
    testTimeout: 120_000,
  },
});
