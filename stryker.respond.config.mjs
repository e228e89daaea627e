// The leak pipeline's decision code (`npm run mutate:respond`): what the policy says for a leaked PAT and what
// is recorded, revoked and counted (respond.ts), whether and to whom the owner's notice goes (send-notice.ts),
// the batched fingerprint look-ups, and how a scan's findings become respond jobs (leak-reports.ts). Against
// the suites that call them in-process (test/mutate/vitest.respond.config.ts); PGlite, or PostgreSQL with
// DATABASE_URL.
import base from "./stryker.config.mjs";

export default {
  ...base,
  vitest: { ...base.vitest, configFile: "test/mutate/vitest.respond.config.ts" },
  mutate: [
    "src/respond/respond.ts",
    "src/respond/send-notice.ts",
    "src/respond/fingerprint-lookup.ts",
    "src/queue/leak-reports.ts",
  ],
  htmlReporter: { fileName: "reports/mutation/respond.html" },
  jsonReporter: { fileName: "reports/mutation/respond.json" },
};
