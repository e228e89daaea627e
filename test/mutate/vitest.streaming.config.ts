// What StrykerJS runs against blocks.ts and stream-scanner.ts (stryker.streaming.config.mjs): the single-cut
// suites (cuts.test.ts, and blocks/small-blocks with small cut and gathering sizes) and the small detector suites. No global setup needed.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/detect/blocks.test.ts",
      "test/detect/cuts.test.ts",
      "test/detect/small-blocks.test.ts",
      "test/detect/scanner.test.ts",
      "test/detect/diff.test.ts",
    ],
    testTimeout: 120_000,
  },
});
