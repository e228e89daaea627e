// What StrykerJS runs against the issuer's audit log, PAT authentication, failed-login throttle and leak
// incidents (stryker.issuer.config.mjs): the suites written for that code, in-process. The other store suites
// reach it too (every change writes an audit event), but each test file opens a database of its own, and
// running a dozen of them per mutant made the run take hours on a 2-core machine; the suites that run dist/
// in a child process (CLI, single-process) would see no mutant at all. The global setup starts Redis for the
// HTTP suite; PATROL_TEST_NO_BUILD=1 skips its build.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/issuer/audit.test.ts",
      "test/issuer/audit-text.test.ts",
      "test/issuer/audit-integrity.test.ts",
      "test/issuer/http-admin-audit.test.ts",
      "test/issuer/auth.test.ts",
      "test/issuer/throttle.test.ts",
      "test/issuer/leaks.test.ts",
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ["test/support/global-setup.ts"],
  },
});
