// The issuer's audit log, PAT authentication and leak incidents (`npm run mutate:issuer`), against the store's
// own suites (PGlite, or PostgreSQL with DATABASE_URL).
import base from "./stryker.config.mjs";

export default {
  ...base,
  vitest: { ...base.vitest, configFile: "test/mutate/vitest.issuer.config.ts" },
  mutate: ["src/issuer/audit.ts", "src/issuer/auth.ts", "src/issuer/leaks.ts"],
  htmlReporter: { fileName: "reports/mutation/issuer.html" },
  jsonReporter: { fileName: "reports/mutation/issuer.json" },
};
