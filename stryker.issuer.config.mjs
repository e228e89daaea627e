// The issuer's audit log, PAT authentication, failed-login throttle and leak incidents (`npm run mutate:issuer`),
// against the suites written for them (test/mutate/vitest.issuer.config.ts; PGlite, or PostgreSQL with
// DATABASE_URL, which is about twice as fast per mutant).
import base from "./stryker.config.mjs";

export default {
  ...base,
  vitest: { ...base.vitest, configFile: "test/mutate/vitest.issuer.config.ts" },
  mutate: ["src/issuer/audit.ts", "src/issuer/auth.ts", "src/issuer/throttle.ts", "src/issuer/leaks.ts"],
  htmlReporter: { fileName: "reports/mutation/issuer.html" },
  jsonReporter: { fileName: "reports/mutation/issuer.json" },
};
