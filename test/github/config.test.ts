/** The GitHub App's configuration, read the Probot way, and the start-up refusals that keep webhooks unforgeable. */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const pem = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString();
const production = {
  NODE_ENV: "production",
  PATROL_ADMIN_KEY: randomBytes(32).toString("hex"),
  PATROL_AUDIT_KEY: randomBytes(32).toString("hex"),
  PATROL_SESSION_SECRET: randomBytes(32).toString("hex"),
};

describe("GitHub App configuration", () => {
  it("reads APP_ID with the key raw, \\n-escaped, base64 or from a file, and GHE_HOST for the API", () => {
    const raw = loadConfig({ APP_ID: "42", PRIVATE_KEY: pem, WEBHOOK_SECRET: "s" });
    expect(raw.github).toMatchObject({
      appId: 42,
      apiBaseUrl: "https://api.github.com",
      webBaseUrl: "https://github.com",
    });
    expect(raw.github.privateKey).toContain("BEGIN RSA PRIVATE KEY");
    expect(loadConfig({ APP_ID: "42", PRIVATE_KEY: pem.replace(/\n/g, "\\n") }).github.privateKey).toBe(pem);
    expect(
      loadConfig({ APP_ID: "42", PRIVATE_KEY: Buffer.from(pem).toString("base64") }).github.privateKey,
    ).toBe(pem);
    const dir = mkdtempSync(path.join(tmpdir(), "patrol-key-"));
    try {
      writeFileSync(path.join(dir, "app.pem"), pem);
      expect(
        loadConfig({ APP_ID: "42", PRIVATE_KEY_PATH: path.join(dir, "app.pem") }).github.privateKey,
      ).toBe(pem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const ghe = loadConfig({ GHE_HOST: "127.0.0.1:8080", GHE_PROTOCOL: "http" }).github;
    expect([ghe.apiBaseUrl, ghe.webBaseUrl, ghe.appId]).toEqual([
      "http://127.0.0.1:8080/api/v3",
      "http://127.0.0.1:8080",
      undefined,
    ]);
  });

  it("runs webhook redelivery every 5 minutes by default, as configured, and never without an app or at 0", () => {
    expect(loadConfig({ APP_ID: "42", PRIVATE_KEY: pem }).github.redeliveryIntervalMs).toBe(300_000);
    expect(
      loadConfig({ APP_ID: "42", PRIVATE_KEY: pem, WEBHOOK_REDELIVERY_INTERVAL_SECONDS: "60" }).github
        .redeliveryIntervalMs,
    ).toBe(60_000);
    expect(
      loadConfig({ APP_ID: "42", PRIVATE_KEY: pem, WEBHOOK_REDELIVERY_INTERVAL_SECONDS: "0" }).github
        .redeliveryIntervalMs,
    ).toBeNull();
    expect(loadConfig({}).github.redeliveryIntervalMs).toBeNull();
    expect(() => loadConfig({ WEBHOOK_REDELIVERY_INTERVAL_SECONDS: "-1" })).toThrow(
      /WEBHOOK_REDELIVERY_INTERVAL_SECONDS/,
    );
  });

  it("refuses half an app, a bad key, and a non-numeric id", () => {
    expect(() => loadConfig({ APP_ID: "42" })).toThrow(/APP_ID and PRIVATE_KEY .* go together/);
    expect(() => loadConfig({ PRIVATE_KEY: pem })).toThrow(/go together/);
    expect(() => loadConfig({ APP_ID: "42", PRIVATE_KEY: "not a key" })).toThrow(/PRIVATE_KEY/);
    expect(() => loadConfig({ APP_ID: "42", PRIVATE_KEY_PATH: "/nonexistent/app.pem" })).toThrow(
      /PRIVATE_KEY_PATH/,
    );
    expect(() => loadConfig({ APP_ID: "my-app", PRIVATE_KEY: pem })).toThrow(/numeric id/);
  });

  it("stops a production start without a real WEBHOOK_SECRET (Probot would fall back to development)", () => {
    const app = { ...production, APP_ID: "42", PRIVATE_KEY: pem };
    expect(() => loadConfig(app)).toThrow(ConfigError);
    expect(() => loadConfig(app)).toThrow(/WEBHOOK_SECRET must be set/);
    expect(() => loadConfig({ ...app, WEBHOOK_SECRET: "development" })).toThrow(/WEBHOOK_SECRET/);
    expect(loadConfig({ ...app, WEBHOOK_SECRET: randomBytes(20).toString("hex") }).github.appId).toBe(42);
    // Without an app there is no webhook route to forge.
    expect(loadConfig(production).github.appId).toBeUndefined();
  });

  it("takes queue and scan settings and refuses nonsense", () => {
    const c = loadConfig({ QUEUE_PREFIX: "{patrol-eu}", SCAN_CONCURRENCY: "8", SCAN_PRIVATE: "true" });
    expect([c.queue.prefix, c.queue.scanConcurrency, c.github.scanPrivate]).toEqual(["{patrol-eu}", 8, true]);
    expect(loadConfig({}).queue.prefix).toBe("{patrol}");
    expect(() => loadConfig({ QUEUE_PREFIX: "a:b" })).toThrow(/QUEUE_PREFIX/);
    expect(() => loadConfig({ SCAN_CONCURRENCY: "0" })).toThrow(/SCAN_CONCURRENCY/);
    expect(() => loadConfig({ SCAN_PRIVATE: "maybe" })).toThrow(/SCAN_PRIVATE/);
  });
});
