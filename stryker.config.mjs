// Mutation testing of the token and detector code: `npm run mutate:detector` (and `npm run mutate` for all).
// See README "Mutation testing". The other scopes (stryker.streaming.config.mjs, stryker.issuer.config.mjs,
// stryker.respond.config.mjs, stryker.tokens.config.mjs) reuse this one.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "test/mutate/vitest.detector.config.ts", related: true },
  // blocks.ts and stream-scanner.ts are the streaming scope's (stryker.streaming.config.mjs).
  mutate: ["src/tokens/**/*.ts", "src/detect/**/*.ts", "!src/detect/blocks.ts", "!src/detect/stream-scanner.ts"],
  coverageAnalysis: "perTest",
  // Mutants in module-level tables would rerun every suite each; on a 2-core machine that doubles the run.
  // They are counted as ignored, not as killed (README "Mutation testing").
  ignoreStatic: true,
  concurrency: 2,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/detector.html" },
  jsonReporter: { fileName: "reports/mutation/detector.json" },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  // Over the time the covering tests took (x1.5): enough for a loaded machine, short enough for infinite loops.
  timeoutMS: 5_000,
  thresholds: { high: 90, low: 80, break: null },
};
