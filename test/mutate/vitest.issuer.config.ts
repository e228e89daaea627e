// What StrykerJS runs against the issuer's audit, auth and leak code (stryker.issuer.config.mjs): the store's
// suites that call it in-process. The CLI suite is left out: it runs dist/ in a child process, where no mutant
// is switched on. The global setup starts Redis for the HTTP suites; PATROL_TEST_NO_BUILD=1 skips its build.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/issuer/**/*.test.ts"],
    exclude: ["test/issuer/cli.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ["test/support/global-setup.ts"],
  },
});
