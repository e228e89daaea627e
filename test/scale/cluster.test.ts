/**
 * patrol scaled out: two `patrol web` and two `patrol worker` OS processes on a 3-master Redis Cluster (BullMQ
 * under the default `{patrol}` prefix) and one PostgreSQL. Pushes with planted PATs arrive as signed webhooks
 * spread over both web processes, each delivered once more to the other one; every PAT is revoked, its owner
 * mailed once, one set of audit events written, and each push scanned once.
 */
import { randomBytes } from "node:crypto";
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeGitHub, startFakeGitHub } from "../support/fake-github/index.js";
import { eventually } from "../support/patrol.js";
import {
  deploymentEnv,
  type PatrolProcess,
  sharedPostgres,
  startPatrolProcesses,
  stopAll,
} from "../support/patrol-process.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { type SmtpCapture, startSmtpCapture } from "../support/smtp.js";

const SECRET = randomBytes(20).toString("hex");
const LEAKS = 6;

let cluster: TestRedisCluster;
let gh: FakeGitHub;
let smtp: SmtpCapture;
let database: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
let webs: PatrolProcess[] = [];
let workers: PatrolProcess[] = [];

beforeAll(async () => {
  [cluster, gh, smtp, database] = await Promise.all([
    startRedisCluster(3),
    startFakeGitHub(),
    startSmtpCapture(),
    sharedPostgres(),
  ]);
  env = {
    ...deploymentEnv(),
    ...gh.env(SECRET),
    REDIS_CLUSTER_NODES: cluster.nodes,
    DATABASE_URL: database.url,
    SMTP_URL: smtp.url,
  };
  // Web first: they apply the migrations the workers' stores expect (either would; this keeps logs quiet).
  webs = await startPatrolProcesses(["web", "web"], env);
  workers = await startPatrolProcesses(["worker", "worker"], env);
}, 90_000);

afterAll(async () => {
  await stopAll([...webs, ...workers]);
  await Promise.all([cluster?.stop(), smtp?.close(), gh?.close(), database?.drop()]);
});

function call(base: string, method: string, route: string, body?: unknown) {
  return fetch(`${base}${route}`, {
    method,
    headers: {
      "x-patrol-admin-key": env.PATROL_ADMIN_KEY,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function ok(response: Promise<Response>): Promise<Response> {
  const r = await response;
  if (r.status >= 300) throw new Error(`${r.url}: ${r.status} ${await r.text()}`);
  return r;
}

async function patStatus(base: string, organization: string, token: string): Promise<number> {
  const r = await fetch(`${base}/${organization}/_apis/connectionData`, {
    headers: { authorization: `Basic ${Buffer.from(`any:${token}`).toString("base64")}` },
  });
  await r.arrayBuffer();
  return r.status;
}

/** The sum over both workers of `patrol_jobs_processed_total{queue, result="completed"}`. */
async function completedJobs(queue: string): Promise<number> {
  let total = 0;
  for (const worker of workers) {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    const line = text
      .split("\n")
      .find(
        (l) =>
          l.startsWith("patrol_jobs_processed_total{") &&
          l.includes(`queue="${queue}"`) &&
          l.includes('result="completed"'),
      );
    total += line ? Number(line.split(" ").pop()) : 0;
  }
  return total;
}

describe("two web and two worker processes on a Redis Cluster", () => {
  it("are all ready, on a cluster whose masters do not evict", async () => {
    for (const p of [...webs, ...workers])
      expect(await (await fetch(`${p.url}/readyz`)).json()).toEqual({ status: "ready" });
    for (const p of [...webs, ...workers]) expect(p.stderr()).not.toMatch(/maxmemory-policy/);
  });

  it("revoke every leaked PAT once, mail each owner once and audit once, whichever process took the webhook", async () => {
    const [a, b] = webs;
    const organization = "scale-org";
    const email = "owner@scale.example";
    await ok(call(a.url, "POST", "/_apis/patrol/tenants", { name: "scale" }));
    await ok(call(b.url, "POST", "/_apis/patrol/tenants/scale/organizations", { name: organization }));
    await ok(call(a.url, "POST", "/_apis/patrol/tenants/scale/users", { email, displayName: "Owner" }));
    const validTo = new Date(Date.now() + 7 * 86400_000).toISOString();
    const pats: { token: string; authorizationId: string; name: string }[] = [];
    for (let i = 0; i < LEAKS; i++) {
      const name = `leak-${i}`;
      const r = await ok(
        call(
          webs[i % 2].url,
          "POST",
          `/${organization}/_apis/tokens/pats?api-version=7.1-preview.1&user=${encodeURIComponent(email)}`,
          { displayName: name, scope: "vso.code", validTo, allOrgs: false },
        ),
      );
      const { patToken } = (await r.json()) as { patToken: { token: string; authorizationId: string } };
      pats.push({ ...patToken, name });
    }
    for (const pat of pats) expect(await patStatus(b.url, organization, pat.token)).toBe(200);

    const repos = await Promise.all([0, 1, 2].map((i) => gh.createRepo(`scale-dev-${i}`, "service")));
    for (const repo of repos) await repo.commit({ message: "init", files: { "README.md": "# service\n" } });
    for (let i = 0; i < LEAKS; i++) {
      const repo = repos[i % repos.length];
      const before = (await repo.tip()) ?? undefined;
      const after = await repo.commit({
        message: `config ${i}`,
        files: { [`deploy/env-${i}.sh`]: `export AZURE_DEVOPS_EXT_PAT=${pats[i].token}\n` },
      });
      const payload = await repo.pushPayload({ before, after });
      const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
      const delivery = await gh.deliver({
        url: `${first.url}/api/github/webhooks`,
        event: "push",
        payload,
        secret: SECRET,
      });
      expect(delivery.statusCode).toBe(202);
      // GitHub redelivers with the same GUID; a load balancer may send it to the other replica.
      const again = await gh.deliver({
        url: `${second.url}/api/github/webhooks`,
        event: "push",
        payload,
        secret: SECRET,
        deliveryId: delivery.guid,
      });
      expect(again.statusCode).toBe(202);
    }

    for (const pat of pats)
      await eventually(
        "the PAT to stop working",
        async () => (await patStatus(a.url, organization, pat.token)) === 401,
        30_000,
      );
    for (const pat of pats) expect(await patStatus(b.url, organization, pat.token)).toBe(401);
    await eventually("one mail per leak", async () => smtp.messages.length >= LEAKS, 30_000);
    await eventually("the notices to be done", async () => (await completedJobs("notify")) >= LEAKS, 10_000);
    await new Promise((r) => setTimeout(r, 1000));

    expect(smtp.messages).toHaveLength(LEAKS);
    expect(smtp.messages.map((m) => m.subject).sort()).toEqual(
      pats.map((p) => `Your personal access token "${p.name}" was found in a public repository`).sort(),
    );
    for (const mail of smtp.messages) {
      expect(mail.to).toEqual([email]);
      for (const pat of pats) expect(mail.raw.toString("utf8")).not.toContain(pat.token);
    }

    const exported = await (await ok(call(b.url, "GET", "/_apis/patrol/tenants/scale/audit/export"))).text();
    const events = exported
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { actionId: string; data: { authorizationId?: string } });
    for (const pat of pats) {
      const mine = events.filter((e) => e.data.authorizationId === pat.authorizationId);
      expect(mine.filter((e) => e.actionId === "Token.PatPublicDiscoveryEvent")).toHaveLength(1);
      expect(mine.filter((e) => e.actionId === "Token.PatSystemRevokeEvent")).toHaveLength(1);
    }
    // Two workers appended to one tenant's hash chain: still one unbroken chain.
    expect(
      await (await ok(call(a.url, "GET", "/_apis/patrol/tenants/scale/audit/verify"))).json(),
    ).toMatchObject({
      ok: true,
    });

    // Each push was fetched and scanned once, by one of the two workers.
    expect(gh.requests.filter((r) => r.path.includes("/compare/"))).toHaveLength(LEAKS);
    expect(await completedJobs("scan")).toBe(LEAKS);
    expect(await completedJobs("notify")).toBe(LEAKS);
    for (const p of [...webs, ...workers]) expect(p.stderr()).not.toMatch(/"level":(50|60)/);
  });

  it("share one API rate-limit count across both web processes, kept on the cluster", async () => {
    const remaining: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call(webs[i % 2].url, "GET", "/_apis/patrol/tenants/scale");
      await r.arrayBuffer();
      expect(r.status).toBe(200);
      remaining.push(Number(r.headers.get("x-ratelimit-remaining")));
    }
    // One count: each answer, from either process, is one less than the one before.
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]).toBe(remaining[i - 1] - 1);
  });

  it("keep every queue key in the `{patrol}` slot, on one master", async () => {
    const client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    try {
      await new Promise((resolve) => client.once("ready", resolve));
      const perMaster = await Promise.all(client.nodes("master").map((node) => node.keys("*")));
      const queueKeys = perMaster.map((keys) => keys.filter((k) => k.startsWith("{patrol}:")).length);
      expect(queueKeys.filter((n) => n > 0)).toHaveLength(1);
      expect(Math.max(...queueKeys)).toBeGreaterThan(10);
      expect(perMaster.flat().some((k) => k.startsWith("patrol-rate-limit:patrol:"))).toBe(true);
    } finally {
      client.disconnect();
    }
  });
  it("all exit 0 within 30 s of SIGTERM, closing their cluster connections; then no webhook is taken", async () => {
    const hook = `${webs[0].url}/api/github/webhooks`;
    const signalled = Date.now();
    for (const p of [...webs, ...workers]) p.child.kill("SIGTERM");
    const exits = await Promise.all([...webs, ...workers].map((p) => p.exited));
    expect(Date.now() - signalled).toBeLessThan(30_000);
    expect(exits).toEqual(exits.map(() => ({ code: 0, signal: null })));
    await expect(fetch(hook, { method: "POST", body: "{}" })).rejects.toThrow();
  });
});
