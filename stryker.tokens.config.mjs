// The quick scope CI runs (`npm run mutate:tokens`): the token formats only, failing below 80%.
import base from "./stryker.config.mjs";

export default {
  ...base,
  vitest: { ...base.vitest, configFile: "test/mutate/vitest.tokens.config.ts" },
  mutate: ["src/tokens/**/*.ts"],
  htmlReporter: { fileName: "reports/mutation/tokens.html" },
  jsonReporter: { fileName: "reports/mutation/tokens.json" },
  thresholds: { ...base.thresholds, break: 80 },
};
