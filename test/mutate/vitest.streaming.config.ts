// What StrykerJS runs against blocks.ts and stream-scanner.ts (stryker.streaming.config.mjs): the single-cut
// suite (a cut needs a piece over ~1 MiB) and the small detector suites. No global setup needed.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/detect/cuts.test.ts", "test/detect/scanner.test.ts", "test/detect/diff.test.ts"],
    testTimeout: 120_000,
  },
});
