/**
 * The API's rate limits hold across replicas: two `patrol web` processes on one Redis share each client's
 * count, so the limit is the deployment's, not N times it. Client addresses come from X-Forwarded-For
 * (TRUST_PROXY=true, as behind a load balancer), which lets one test be several clients.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIssuerServer } from "../../src/issuer/index.js";
import { redisConnection } from "../../src/queue/index.js";
import { ADMIN_KEY, openTestIssuer } from "../support/issuer.js";
import {
  deploymentEnv,
  type PatrolProcess,
  sharedPostgres,
  startPatrolProcesses,
  stopAll,
} from "../support/patrol-process.js";
import { testRedisUrl, uniqueQueuePrefix } from "../support/redis.js";

const API_MAX = 10;
const PAT_AUTH_MAX = 4;

let database: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
let webs: PatrolProcess[] = [];

beforeAll(async () => {
  database = await sharedPostgres();
  env = {
    ...deploymentEnv(),
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniqueQueuePrefix("rate-limit"),
    DATABASE_URL: database.url,
    TRUST_PROXY: "true",
    RATE_LIMIT_API_MAX: String(API_MAX),
    RATE_LIMIT_PAT_AUTH_MAX: String(PAT_AUTH_MAX),
    RATE_LIMIT_WINDOW_SECONDS: "60",
  };
  webs = await startPatrolProcesses(["web", "web"], env);
  const steps: [string, string, unknown][] = [
    ["POST", "/_apis/patrol/tenants", { name: "limits" }],
    ["POST", "/_apis/patrol/tenants/limits/organizations", { name: "limits-org" }],
    ["POST", "/_apis/patrol/tenants/limits/users", { email: "dev@limits.example", displayName: "Dev" }],
  ];
  for (const [method, route, body] of steps) {
    const r = await call(webs[0], ADMIN_CLIENT, route, { method, body });
    if (r.status >= 300) throw new Error(`${route}: ${r.status} ${r.text}`);
  }
}, 60_000);

const ADMIN_CLIENT = "198.51.100.9";
const TENANT = "/_apis/patrol/tenants/limits";

afterAll(async () => {
  await stopAll(webs);
  await database?.drop();
});

async function call(
  web: PatrolProcess,
  client: string,
  route: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${web.url}${route}`, {
    method: init.method ?? "GET",
    headers: {
      "x-forwarded-for": client,
      "x-patrol-admin-key": env.PATROL_ADMIN_KEY,
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

describe("rate limits shared by two web processes", () => {
  it("answer 429 with retry-after once a client's API requests over both processes reach the limit", async () => {
    const client = "198.51.100.1";
    for (let i = 0; i < API_MAX; i++) {
      const r = await call(webs[i % 2], client, TENANT);
      expect(r.status, `request ${i + 1}`).toBe(200);
      expect(Number(r.headers.get("x-ratelimit-remaining"))).toBe(API_MAX - i - 1);
    }
    for (const web of webs) {
      const r = await call(web, client, TENANT);
      expect(r.status).toBe(429);
      const wait = Number(r.headers.get("retry-after"));
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(60);
      expect(JSON.parse(r.text)).toMatchObject({ typeKey: "TooManyRequestsException" });
    }
    // Another client has its own count; health, webhooks and partner alerts are not limited.
    expect((await call(webs[0], "198.51.100.2", TENANT)).status).toBe(200);
    expect((await call(webs[1], client, "/healthz")).status).toBe(200);
    const hook = await call(webs[1], client, "/api/github/webhooks", { method: "POST", body: {} });
    expect(hook.status).not.toBe(429);
  });

  it("count PAT authentications apart, with a lower limit, across both processes", async () => {
    const validTo = new Date(Date.now() + 86400_000).toISOString();
    const created = await call(
      webs[1],
      ADMIN_CLIENT,
      "/limits-org/_apis/tokens/pats?api-version=7.1-preview.1&user=dev%40limits.example",
      { method: "POST", body: { displayName: "ci", scope: "vso.code", validTo, allOrgs: false } },
    );
    expect(created.status).toBe(200);
    const { token } = (JSON.parse(created.text) as { patToken: { token: string } }).patToken;

    const agent = "198.51.100.3";
    const basic = { authorization: `Basic ${Buffer.from(`any:${token}`).toString("base64")}` };
    const connectionData = (web: PatrolProcess) =>
      call(web, agent, "/limits-org/_apis/connectionData", { headers: basic });
    for (let i = 0; i < PAT_AUTH_MAX; i++) expect((await connectionData(webs[i % 2])).status).toBe(200);
    for (const web of webs) {
      const r = await connectionData(web);
      expect(r.status).toBe(429);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(JSON.parse(r.text).message).toMatch(/too many PAT authentications/);
    }
    // The same address is still under the API's own limit for requests without a PAT.
    expect((await call(webs[0], agent, TENANT)).status).toBe(200);
  });
});

describe("rate limits when Redis is away", () => {
  it("are not enforced: the API, which needs only the database, keeps answering", async () => {
    const issuer = await openTestIssuer();
    // Nothing listens on port 1: every count fails at once (a producer connection does not queue commands).
    const redis = redisConnection("redis://127.0.0.1:1", "producer");
    const app = await buildIssuerServer({
      store: issuer.store,
      config: issuer.config,
      logger: issuer.logger,
      rateLimit: { apiMax: 2, patAuthMax: 1, windowSeconds: 60, redis, namespace: "patrol-rate-limit:away:" },
    });
    try {
      for (let i = 0; i < 4; i++) {
        const r = await app.inject({
          method: "GET",
          url: "/_apis/patrol/tenants/nobody",
          headers: { "x-patrol-admin-key": ADMIN_KEY },
        });
        expect(r.statusCode, r.body).toBe(404);
      }
      const pat = await app.inject({
        method: "GET",
        url: "/nobody-org/_apis/connectionData",
        headers: { authorization: `Basic ${Buffer.from("any:not-a-pat").toString("base64")}` },
      });
      expect(pat.statusCode).toBe(401);
    } finally {
      await app.close();
      redis.disconnect();
      await issuer.close();
    }
  });
});
