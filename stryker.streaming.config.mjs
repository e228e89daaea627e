// The detector's streaming code (`npm run mutate:streaming`): the block splitter and the stream scanner are
// reached only by inputs over the ~1 MiB the scanner gathers, so they get the single-cut suite, which scans
// megabytes, and the small detector suites.
import base from "./stryker.config.mjs";

export default {
  ...base,
  vitest: { ...base.vitest, configFile: "test/mutate/vitest.streaming.config.ts" },
  mutate: ["src/detect/blocks.ts", "src/detect/stream-scanner.ts"],
  htmlReporter: { fileName: "reports/mutation/streaming.html" },
  jsonReporter: { fileName: "reports/mutation/streaming.json" },
};
