/** The dashboard's credential checks on their own: keys, session cookies, the throttle, the origin check. */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { loadDashboardSessionSecret } from "../../src/web/dashboard.js";
import {
  authenticate,
  DashboardKeys,
  DashboardSessions,
  isSameOriginRequest,
  LoginThrottle,
} from "../../src/web/dashboard-auth.js";

const ADMIN = "admin-key-0123456789abcdef";
const VIEWER = "viewer-key-0123456789abcdef";
const SECRET = "s".repeat(32);
/** Production also wants a strong admin key and an audit key (src/config.ts). */
const PRODUCTION = {
  NODE_ENV: "production",
  PATROL_ADMIN_KEY: "9f2c4e7a1b3d5f6e8a0c2e4f6a8b0d1c3e5f7a9b1d3f5e7c",
  PATROL_AUDIT_KEY: "a".repeat(16) + "0123456789abcdef".repeat(3),
};
const parseCookie = (header: string) =>
  Object.fromEntries(header.split(/;\s*/).map((pair) => pair.split("=").map(decodeURIComponent)));

describe("DashboardKeys", () => {
  it("maps each key to its role and nothing else to anything", () => {
    const keys = new DashboardKeys(ADMIN, VIEWER);
    expect(keys.roleOf(ADMIN)).toBe("admin");
    expect(keys.roleOf(VIEWER)).toBe("viewer");
    for (const guess of ["", ADMIN.slice(0, -1), `${ADMIN} `, ADMIN.toUpperCase(), `${VIEWER}${VIEWER}`]) {
      expect(keys.roleOf(guess), guess).toBeUndefined();
    }
    expect(new DashboardKeys(undefined, VIEWER).roleOf(ADMIN)).toBeUndefined();
    expect(new DashboardKeys(undefined, undefined).configured).toBe(false);
  });
});

describe("DashboardSessions", () => {
  it("accept their own cookies until they expire", () => {
    let now = 1_800_000_000_000;
    const keys = new DashboardKeys(ADMIN, VIEWER);
    const sessions = new DashboardSessions(SECRET, keys, 60, () => now);
    const cookie = sessions.issue("viewer");
    expect(sessions.verify(cookie)).toBe("viewer");
    now += 59_000;
    expect(sessions.verify(cookie)).toBe("viewer");
    now += 1_000;
    expect(sessions.verify(cookie)).toBeUndefined();
  });

  it("end when the secret or either key changes", () => {
    const keys = new DashboardKeys(ADMIN, VIEWER);
    const cookie = new DashboardSessions(SECRET, keys, 60).issue("admin");
    expect(new DashboardSessions(SECRET, keys, 60).verify(cookie)).toBe("admin");
    expect(new DashboardSessions("t".repeat(32), keys, 60).verify(cookie)).toBeUndefined();
    expect(
      new DashboardSessions(SECRET, new DashboardKeys(`${ADMIN}x`, VIEWER), 60).verify(cookie),
    ).toBeUndefined();
    expect(
      new DashboardSessions(SECRET, new DashboardKeys(ADMIN, `${VIEWER}x`), 60).verify(cookie),
    ).toBeUndefined();
  });
});

describe("authenticate", () => {
  const keys = new DashboardKeys(ADMIN, VIEWER);
  const sessions = new DashboardSessions(SECRET, keys, 60);

  it("takes a bearer key before a cookie, and ignores other schemes", () => {
    const cookie = `patrol_dashboard=${encodeURIComponent(sessions.issue("viewer"))}`;
    expect(authenticate({ authorization: `Bearer ${ADMIN}` }, keys, sessions, parseCookie)).toEqual({
      role: "admin",
      via: "bearer",
    });
    expect(authenticate({ authorization: "Bearer nope", cookie }, keys, sessions, parseCookie)).toEqual({
      role: undefined,
      via: "bearer",
    });
    expect(authenticate({ authorization: "Basic eDp5", cookie }, keys, sessions, parseCookie)).toEqual({
      role: "viewer",
      via: "cookie",
    });
    expect(authenticate({ cookie: "other=1" }, keys, sessions, parseCookie)).toEqual({
      role: undefined,
      via: "none",
    });
  });
});

describe("LoginThrottle", () => {
  it("locks an address after the limit until the window ends", () => {
    let now = 0;
    const throttle = new LoginThrottle(2, 10, 100, () => now);
    throttle.recordFailure("a");
    expect(throttle.retryAfterSeconds("a")).toBe(0);
    throttle.recordFailure("a");
    expect(throttle.retryAfterSeconds("a")).toBe(10);
    expect(throttle.retryAfterSeconds("b")).toBe(0);
    now = 9_500;
    expect(throttle.retryAfterSeconds("a")).toBe(1);
    now = 10_000;
    expect(throttle.retryAfterSeconds("a")).toBe(0);
    throttle.recordFailure("a");
    expect(throttle.retryAfterSeconds("a")).toBe(0);
  });

  it("keeps at most its number of addresses", () => {
    const throttle = new LoginThrottle(1, 60, 3);
    for (const address of ["a", "b", "c", "d"]) throttle.recordFailure(address);
    expect(throttle.retryAfterSeconds("a")).toBe(0);
    expect(throttle.retryAfterSeconds("d")).toBeGreaterThan(0);
  });
});

describe("isSameOriginRequest", () => {
  const ours = "https://patrol.example";
  it.each([
    [{ origin: ours }, true],
    [{ origin: "HTTPS://PATROL.EXAMPLE" }, true],
    [{ "sec-fetch-site": "same-origin" }, true],
    [{ "sec-fetch-site": "same-origin", origin: ours }, true],
    [{}, false],
    [{ origin: "https://patrol.example.evil" }, false],
    [{ origin: "null" }, false],
    [{ "sec-fetch-site": "same-site", origin: ours }, false],
    [{ "sec-fetch-site": "cross-site" }, false],
    [{ "sec-fetch-site": "none" }, false],
    [{ "sec-fetch-site": "same-origin", origin: "https://evil.example" }, false],
  ])("%j → %s", (headers, expected) => {
    expect(isSameOriginRequest(headers, ours)).toBe(expected);
  });
});

describe("dashboard configuration", () => {
  const base = { PATROL_ADMIN_KEY: ADMIN };

  it("reads the viewer key, session secret and cookie flag", () => {
    const config = loadConfig({ ...base, PATROL_VIEWER_KEY: VIEWER, PATROL_SESSION_SECRET: SECRET });
    expect(config.dashboard).toEqual({ viewerKey: VIEWER, sessionSecret: SECRET, secureCookies: false });
    expect(
      loadConfig({ ...base, ...PRODUCTION, PATROL_SESSION_SECRET: SECRET }).dashboard.secureCookies,
    ).toBe(true);
    expect(
      loadConfig({
        ...base,
        ...PRODUCTION,
        PATROL_SESSION_SECRET: SECRET,
        PATROL_SECURE_COOKIES: "false",
      }).dashboard.secureCookies,
    ).toBe(false);
  });

  it.each([
    [{ PATROL_VIEWER_KEY: "short" }, /PATROL_VIEWER_KEY must be at least 16/],
    [{ PATROL_VIEWER_KEY: ADMIN }, /PATROL_VIEWER_KEY must differ/],
    [{ PATROL_SESSION_SECRET: "short" }, /PATROL_SESSION_SECRET must be at least 32/],
    [{ NODE_ENV: "production" }, /PATROL_SESSION_SECRET is required in production/],
    [{ PATROL_SECURE_COOKIES: "yes" }, /PATROL_SECURE_COOKIES/],
  ])("refuses %j", (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  it("generates a development secret into the data directory once, readable by its owner only", () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "patrol-session-"));
    try {
      const config = loadConfig({ ...base, PATROL_DATA_DIR: path.join(dataDir, "data") });
      const secret = loadDashboardSessionSecret(config);
      expect(secret).toMatch(/^[0-9a-f]{64}$/);
      expect(loadDashboardSessionSecret(config)).toBe(secret);
      const file = path.join(config.dataDir, "dashboard-session-secret");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(
        loadDashboardSessionSecret({ ...config, dashboard: { ...config.dashboard, sessionSecret: SECRET } }),
      ).toBe(SECRET);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
