// What StrykerJS runs against the token and detector code (stryker.config.mjs): their own suites, in-process.
// No global setup: these suites need neither Redis nor a build.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/tokens.test.ts", "test/tokens/**/*.test.ts", "test/detect/**/*.test.ts"],
    // Left out: the multi-megabyte stress inputs, the streaming property test and the cuts after the real
    // 1 MiB gathering (tens of megabytes scanned in all) take minutes per mutant under instrumentation;
    // cut-every-byte, small-blocks and blocks drive the same paths with the smallest cut and gathering sizes.
    exclude: [
      "test/detect/boundaries.test.ts",
      "test/detect/cuts.test.ts",
      "test/detect/giant-lines.test.ts",
      "test/detect/stream.test.ts",
    ],
    testTimeout: 60_000,
  },
});
