// What CI's quick mutation run (stryker.tokens.config.mjs) runs against src/tokens: the token suites alone, so
// it takes a minute or two. No global setup: they need neither Redis nor a build.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: { include: ["test/tokens.test.ts", "test/tokens/**/*.test.ts"] },
});
