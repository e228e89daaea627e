/**
 * The queue dashboard over HTTP (fastify.inject) on real BullMQ queues in the test run's Redis: who gets in,
 * what each role may do, and that refused calls change nothing in Redis.
 */
import Fastify, { type FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardRoutes } from "../../src/web/dashboard.js";
import {
  ADMIN_KEY,
  dashboardApp,
  type QueuesWithJobs,
  queuesWithJobs,
  VIEWER_KEY,
} from "./dashboard-fixture.js";

const ORIGIN = "http://localhost:80";
const sameOrigin = { origin: ORIGIN, "sec-fetch-site": "same-origin" };

/** Signs in through the login form; returns the `name=value` of the session cookie and its attributes. */
async function signInWithAttributes(
  app: FastifyInstance,
  key: string,
): Promise<{ cookie: string; setCookie: string }> {
  const response = await app.inject({
    method: "POST",
    url: "/admin/login",
    headers: { ...sameOrigin, "content-type": "application/x-www-form-urlencoded" },
    payload: new URLSearchParams({ key, next: "/admin/queues" }).toString(),
  });
  expect(response.statusCode, response.body).toBe(303);
  const setCookie = String(response.headers["set-cookie"]);
  return { cookie: setCookie.split(";")[0], setCookie };
}

const signIn = async (app: FastifyInstance, key: string) => (await signInWithAttributes(app, key)).cookie;

describe("queue dashboard", () => {
  let queues: QueuesWithJobs;
  let app: FastifyInstance;
  let viewerCookie: string;
  let adminCookie: string;

  beforeAll(async () => {
    queues = await queuesWithJobs("dashboard-http");
    app = await dashboardApp(queues);
    viewerCookie = await signIn(app, VIEWER_KEY);
    adminCookie = await signIn(app, ADMIN_KEY);
  });
  afterAll(async () => {
    await app?.close();
    await queues?.close();
  });

  const failedJobUrl = () => `/admin/queues/api/queues/scan/${queues.failed.scan}`;

  describe("anonymous callers", () => {
    it("are sent to the login page from the UI", async () => {
      for (const url of ["/admin/queues", "/admin/queues/", "/admin/queues/queue/scan"]) {
        const response = await app.inject({ url, headers: { accept: "text/html" } });
        expect(response.statusCode, url).toBe(302);
        expect(response.headers.location).toBe(`/admin/login?next=${encodeURIComponent(url)}`);
      }
    });

    it("get nothing of the board's own files", async () => {
      for (const method of ["GET", "HEAD"] as const) {
        const response = await app.inject({ method, url: "/admin/queues/static/favicon-32x32.png" });
        expect(response.statusCode, method).toBe(302);
      }
      const signedIn = await app.inject({
        url: "/admin/queues/static/favicon-32x32.png",
        headers: { cookie: viewerCookie },
      });
      expect(signedIn.statusCode).toBe(200);
      expect(signedIn.headers["content-type"]).toBe("image/png");
    });

    it("get 401 from the API and change nothing", async () => {
      const list = await app.inject({ url: "/admin/queues/api/queues" });
      expect(list.statusCode).toBe(401);
      expect(list.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(list.body).not.toContain("octo/app");
      const retry = await app.inject({ method: "PUT", url: `${failedJobUrl()}/retry`, headers: sameOrigin });
      expect(retry.statusCode).toBe(401);
      expect(await queues.scan.getJobState(queues.failed.scan)).toBe("failed");
    });

    it("see a login form", async () => {
      const response = await app.inject({ url: "/admin/login?next=/admin/queues/queue/scan" });
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toMatch(/^text\/html/);
      expect(response.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(response.body).toContain('<form method="post" action="/admin/login">');
      expect(response.body).toContain('value="/admin/queues/queue/scan"');
    });

    it("are never redirected off the dashboard after signing in", async () => {
      for (const next of ["https://evil.example/", "//evil.example/admin/queues", "/admin/queuesevil"]) {
        const page = await app.inject({ url: `/admin/login?next=${encodeURIComponent(next)}` });
        expect(page.body).toContain('name="next" value="/admin/queues"');
        const response = await app.inject({
          method: "POST",
          url: "/admin/login",
          headers: { ...sameOrigin, "content-type": "application/x-www-form-urlencoded" },
          payload: new URLSearchParams({ key: VIEWER_KEY, next }).toString(),
        });
        expect(response.headers.location).toBe("/admin/queues");
      }
    });
  });

  describe("wrong keys", () => {
    it("are refused at the login page, with no session", async () => {
      const response = await app.inject({
        method: "POST",
        url: "/admin/login",
        headers: { ...sameOrigin, "content-type": "application/x-www-form-urlencoded" },
        payload: `key=${encodeURIComponent(`${ADMIN_KEY}x`)}`,
      });
      expect(response.statusCode).toBe(401);
      expect(response.headers["set-cookie"]).toBeUndefined();
      expect(response.body).toContain("That key is not valid.");
      expect(response.body).not.toContain(ADMIN_KEY);
    });

    it("are refused as bearer keys", async () => {
      const response = await app.inject({
        url: "/admin/queues/api/queues",
        headers: { authorization: `Bearer ${VIEWER_KEY.slice(0, -1)}` },
      });
      expect(response.statusCode).toBe(401);
    });

    it("and forged or altered session cookies grant nothing", async () => {
      const [name, value] = adminCookie.split("=");
      const decoded = decodeURIComponent(value);
      const forged = [
        `${name}=${encodeURIComponent(decoded.replace(/^admin/, "viewer"))}`,
        `${name}=${encodeURIComponent(`admin.${Math.floor(Date.now() / 1000) + 3600}`)}`,
        `${name}=${encodeURIComponent(`${decoded.slice(0, -2)}AA`)}`,
      ];
      for (const cookie of forged) {
        const response = await app.inject({ url: "/admin/queues/api/queues", headers: { cookie } });
        expect(response.statusCode, cookie).toBe(401);
      }
    });
  });

  describe("a viewer", () => {
    it("gets a session cookie that is HttpOnly, SameSite=Strict and scoped to /admin", async () => {
      const { setCookie } = await signInWithAttributes(app, VIEWER_KEY);
      const attributes = setCookie
        .split(/;\s*/)
        .slice(1)
        .map((a) => a.toLowerCase());
      expect(attributes).toEqual(expect.arrayContaining(["httponly", "samesite=strict", "path=/admin"]));
      expect(attributes).toContain(`max-age=${8 * 3600}`);
      expect(attributes).not.toContain("secure");
      expect(setCookie).not.toContain(VIEWER_KEY);
    });

    it("sees the board, the queues and their jobs, read-only", async () => {
      const page = await app.inject({ url: "/admin/queues", headers: { cookie: viewerCookie } });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain("/admin/queues/");
      const list = await app.inject({
        url: "/admin/queues/api/queues?activeQueue=scan&status=failed",
        headers: { cookie: viewerCookie },
      });
      expect(list.statusCode).toBe(200);
      const body = list.json() as {
        queues: { name: string; readOnlyMode: boolean; jobs: { id: string }[] }[];
      };
      expect(body.queues.map((q) => q.name).sort()).toEqual(["respond", "scan"]);
      expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
      const scan = body.queues.find((q) => q.name === "scan")!;
      expect(scan.jobs.map((j) => j.id)).toEqual([queues.failed.scan]);
      const job = await app.inject({ url: failedJobUrl(), headers: { cookie: viewerCookie } });
      expect(job.statusCode).toBe(200);
      expect(job.json().job.failedReason).toContain("planned failure");
    });

    it("gets 405 for retry, clean and remove, and Redis is unchanged", async () => {
      const before = await queues.scan.getJobCounts();
      const calls = [
        `${failedJobUrl()}/retry`,
        `${failedJobUrl()}/clean`,
        `/admin/queues/api/queues/scan/${queues.completed.scan}/clean`,
        "/admin/queues/api/queues/scan/retry/failed",
        "/admin/queues/api/queues/scan/clean/failed",
        "/admin/queues/api/queues/scan/clean/completed",
        "/admin/queues/api/queues/scan/empty",
        "/admin/queues/api/queues/scan/pause",
      ];
      for (const url of calls) {
        const response = await app.inject({
          method: "PUT",
          url,
          headers: { cookie: viewerCookie, ...sameOrigin },
        });
        expect(response.statusCode, url).toBe(405);
        expect(response.json().error, url).toEqual({ key: "ERRORS.QUEUE_READ_ONLY" });
      }
      const bearer = await app.inject({
        method: "PUT",
        url: `${failedJobUrl()}/retry`,
        headers: { authorization: `Bearer ${VIEWER_KEY}` },
      });
      expect(bearer.statusCode).toBe(405);
      expect(await queues.scan.getJobState(queues.failed.scan)).toBe("failed");
      expect(await queues.scan.getJobState(queues.completed.scan)).toBe("completed");
      expect(await queues.scan.getJobCounts()).toEqual(before);
      expect(await queues.scan.isPaused()).toBe(false);
    });
  });

  describe("an admin", () => {
    it("sees writable queues", async () => {
      const list = await app.inject({
        url: "/admin/queues/api/queues",
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(list.statusCode).toBe(200);
      const body = list.json() as { queues: { name: string; readOnlyMode: boolean }[] };
      expect(body.queues.map((q) => [q.name, q.readOnlyMode]).sort()).toEqual([
        ["respond", false],
        ["scan", false],
      ]);
    });

    it("retries a failed job from the browser session; it leaves the failed set", async () => {
      const response = await app.inject({
        method: "PUT",
        url: `${failedJobUrl()}/retry`,
        headers: { cookie: adminCookie, ...sameOrigin },
      });
      expect(response.statusCode).toBe(204);
      expect(await queues.scan.getJobState(queues.failed.scan)).toBe("waiting");
      expect(await queues.scan.getFailedCount()).toBe(0);
    });

    it("retries with a bearer key too (scripts)", async () => {
      const response = await app.inject({
        method: "PUT",
        url: `/admin/queues/api/queues/respond/${queues.failed.respond}/retry`,
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(response.statusCode).toBe(204);
      expect(await queues.respond.getJobState(queues.failed.respond)).toBe("waiting");
    });
  });

  describe("cross-site requests", () => {
    it("with the admin's cookie are refused unless they come from the dashboard's own origin", async () => {
      const url = `/admin/queues/api/queues/respond/${queues.completed.respond}/clean`;
      const attempts: Record<string, string>[] = [
        {},
        { origin: "https://evil.example" },
        { origin: "https://evil.example", "sec-fetch-site": "cross-site" },
        { origin: ORIGIN, "sec-fetch-site": "same-site" },
        { "sec-fetch-site": "cross-site" },
      ];
      for (const headers of attempts) {
        const response = await app.inject({
          method: "PUT",
          url,
          headers: { cookie: adminCookie, ...headers },
        });
        expect(response.statusCode, JSON.stringify(headers)).toBe(403);
      }
      const post = await app.inject({
        method: "POST",
        url: "/admin/queues/api/queues/respond/add",
        headers: { cookie: adminCookie, origin: "https://evil.example", "content-type": "application/json" },
        payload: { name: "planted", data: {} },
      });
      expect(post.statusCode).toBe(403);
      expect(await queues.respond.getJobState(queues.completed.respond)).toBe("completed");
      expect(await queues.respond.getJobCounts("waiting", "completed")).toEqual({ waiting: 1, completed: 1 });
    });

    it("cannot sign a browser in (login CSRF)", async () => {
      const response = await app.inject({
        method: "POST",
        url: "/admin/login",
        headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
        payload: `key=${encodeURIComponent(VIEWER_KEY)}`,
      });
      expect(response.statusCode).toBe(403);
      expect(response.headers["set-cookie"]).toBeUndefined();
    });
  });

  it("signing out clears the session cookie", async () => {
    const response = await app.inject({ url: "/admin/logout", headers: { cookie: viewerCookie } });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe("/admin/login");
    expect(String(response.headers["set-cookie"])).toMatch(/^patrol_dashboard=; Max-Age=0; Path=\/admin;/);
  });

  it("refuses to be mounted under a prefix, where no board could match", async () => {
    const other = Fastify({ logger: false });
    await expect(async () => {
      await other.register(dashboardRoutes, { prefix: "/ops", queues: [queues.scan], secureCookies: false });
    }).rejects.toThrow(/without a prefix/);
    await other.close();
  });

  it("leaves the rest of the server alone", async () => {
    const health = await app.inject({ url: "/healthz", headers: { cookie: adminCookie } });
    expect(health.statusCode).toBe(200);
    expect(health.headers["x-frame-options"]).toBeUndefined();
    const login = await app.inject({ url: "/admin/login", headers: { cookie: adminCookie } });
    expect(login.statusCode).toBe(200);
  });
});

describe("queue dashboard, failed sign-ins", () => {
  let queues: QueuesWithJobs;
  beforeAll(async () => {
    queues = await queuesWithJobs("dashboard-throttle");
  });
  afterAll(async () => {
    await queues?.close();
  });

  const login = (app: FastifyInstance, key: string, remoteAddress = "203.0.113.7") =>
    app.inject({
      method: "POST",
      url: "/admin/login",
      remoteAddress,
      headers: { ...sameOrigin, "content-type": "application/x-www-form-urlencoded" },
      payload: `key=${encodeURIComponent(key)}`,
    });

  it("lock an address out, the right key included, while others still get in", async () => {
    const app = await dashboardApp(queues, { loginFailureLimit: 3, loginFailureWindowSeconds: 60 });
    try {
      expect((await login(app, "wrong-key-number-one")).statusCode).toBe(401);
      const bearer = await app.inject({
        url: "/admin/queues/api/queues",
        remoteAddress: "203.0.113.7",
        headers: { authorization: "Bearer wrong-key-number-two" },
      });
      expect(bearer.statusCode).toBe(401);
      expect((await login(app, "wrong-key-number-three")).statusCode).toBe(401);
      const locked = await login(app, ADMIN_KEY);
      expect(locked.statusCode).toBe(429);
      expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
      expect(locked.headers["set-cookie"]).toBeUndefined();
      const lockedBearer = await app.inject({
        url: "/admin/queues/api/queues",
        remoteAddress: "203.0.113.7",
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      expect(lockedBearer.statusCode).toBe(429);
      expect((await login(app, ADMIN_KEY, "198.51.100.2")).statusCode).toBe(303);
    } finally {
      await app.close();
    }
  });

  it("leave no key in the logs, even at trace level", async () => {
    const lines: string[] = [];
    // No redaction configured: what the dashboard logs must be harmless as it is.
    const logger = pino({ level: "trace" }, { write: (line: string) => lines.push(line) });
    const app = await dashboardApp(queues, {}, logger);
    try {
      await login(app, `${ADMIN_KEY}-wrong`);
      await login(app, VIEWER_KEY);
      for (const key of [ADMIN_KEY, `${VIEWER_KEY}-wrong`]) {
        await app.inject({ url: "/admin/queues/api/queues", headers: { authorization: `Bearer ${key}` } });
      }
      const logged = lines.join("");
      expect(logged).toContain("dashboard: failed sign-in");
      expect(logged).toContain("dashboard: signed in");
      expect(logged).toContain("dashboard: wrong bearer key");
      for (const secret of [ADMIN_KEY, VIEWER_KEY, "a-session-secret-of-at-least-32-characters"]) {
        expect(logged).not.toContain(secret);
      }
    } finally {
      await app.close();
    }
  });

  it("are all there is when no key is configured: nobody gets in", async () => {
    const app = await dashboardApp(queues, { adminKey: undefined, viewerKey: undefined });
    try {
      const page = await app.inject({ url: "/admin/login" });
      expect(page.statusCode).toBe(503);
      expect(page.body).toContain("The dashboard is off");
      expect((await login(app, "")).statusCode).toBe(503);
      const list = await app.inject({
        url: "/admin/queues/api/queues",
        headers: { authorization: "Bearer " },
      });
      expect(list.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});
