/**
 * Graceful shutdown of a `patrol worker` in the middle of a slow job: SIGTERM makes it stop taking jobs, finish
 * the one it holds and exit well within 30 s; a second worker takes what arrives meanwhile. Nothing is lost and
 * nothing is done twice. Real processes on one Redis and one PostgreSQL, the fake GitHub slowed down for one
 * repository.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeGitHub, type FakeRepository, startFakeGitHub } from "../support/fake-github/index.js";
import { eventually } from "../support/patrol.js";
import {
  deploymentEnv,
  type PatrolProcess,
  sharedPostgres,
  startPatrolProcess,
  stopAll,
} from "../support/patrol-process.js";
import { testRedisUrl, uniqueQueuePrefix } from "../support/redis.js";
import { type SmtpCapture, startSmtpCapture } from "../support/smtp.js";

const SECRET = randomBytes(20).toString("hex");
const SLOW_MS = 4000;

let gh: FakeGitHub;
let smtp: SmtpCapture;
let database: { url: string; drop(): Promise<void> };
let env: Record<string, string>;
let web: PatrolProcess | undefined;
let first: PatrolProcess | undefined;
let second: PatrolProcess | undefined;

beforeAll(async () => {
  [gh, smtp, database] = await Promise.all([startFakeGitHub(), startSmtpCapture(), sharedPostgres()]);
  env = {
    ...deploymentEnv(),
    ...gh.env(SECRET),
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniqueQueuePrefix("shutdown"),
    DATABASE_URL: database.url,
    SMTP_URL: smtp.url,
  };
  web = await startPatrolProcess("web", env);
  // At info level its log says when it stops taking jobs.
  first = await startPatrolProcess("worker", { ...env, LOG_LEVEL: "info" });
}, 60_000);

afterAll(async () => {
  await stopAll([web, first, second]);
  await Promise.all([smtp?.close(), gh?.close(), database?.drop()]);
});

function admin(method: string, route: string, body?: unknown) {
  return fetch(`${web!.url}${route}`, {
    method,
    headers: {
      "x-patrol-admin-key": env.PATROL_ADMIN_KEY,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function patStatus(token: string): Promise<number> {
  const r = await fetch(`${web!.url}/quit-org/_apis/connectionData`, {
    headers: { authorization: `Basic ${Buffer.from(`any:${token}`).toString("base64")}` },
  });
  await r.arrayBuffer();
  return r.status;
}

async function issue(name: string): Promise<string> {
  const validTo = new Date(Date.now() + 86400_000).toISOString();
  const r = await admin(
    "POST",
    "/quit-org/_apis/tokens/pats?api-version=7.1-preview.1&user=dev%40quit.example",
    {
      displayName: name,
      scope: "vso.code",
      validTo,
      allOrgs: false,
    },
  );
  if (r.status !== 200) throw new Error(`issue: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { patToken: { token: string } }).patToken.token;
}

async function push(repo: FakeRepository, token: string) {
  const before = (await repo.tip()) ?? undefined;
  const after = await repo.commit({ message: "config", files: { "ci/env.sh": `PAT=${token}\n` } });
  const delivery = await gh.deliver({
    url: `${web!.url}/api/github/webhooks`,
    event: "push",
    payload: await repo.pushPayload({ before, after }),
    secret: SECRET,
  });
  expect(delivery.statusCode).toBe(202);
}

async function completedScans(worker: PatrolProcess): Promise<number> {
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith('patrol_jobs_processed_total{queue="scan",result="completed"}'));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("a worker told to stop during a slow job", () => {
  it("finishes that job, takes no new one, and exits within 30 s; the other worker takes the rest", async () => {
    for (const [route, body] of [
      ["/_apis/patrol/tenants", { name: "quit" }],
      ["/_apis/patrol/tenants/quit/organizations", { name: "quit-org" }],
      ["/_apis/patrol/tenants/quit/users", { email: "dev@quit.example", displayName: "Dev" }],
    ] as const)
      expect((await admin("POST", route, body)).status).toBeLessThan(300);
    const slowToken = await issue("slow");
    const laterToken = await issue("later");
    const slowRepo = await gh.createRepo("slow-dev", "app");
    const laterRepo = await gh.createRepo("later-dev", "app");
    for (const repo of [slowRepo, laterRepo])
      await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
    const slow = gh.faults.add({ kind: "latency", ms: SLOW_MS, path: "/repos/slow-dev/app/compare/*" });

    await push(slowRepo, slowToken);
    // The fault counts the request when it arrives (gh.requests records it once answered).
    await eventually("the first worker to be inside the slow job", async () => slow.hits > 0);
    const inside = Date.now();

    first!.child.kill("SIGTERM");
    await eventually("the first worker to stop taking jobs", async () =>
      first!.stderr().includes("workers take no new jobs"),
    );
    // Arrives while the first worker waits for its slow job: it waits in the queue for the second worker.
    await push(laterRepo, laterToken);
    second = await startPatrolProcess("worker", env);
    const { code } = await first!.exited;
    const exitedAt = Date.now();
    expect(code).toBe(0);
    expect(exitedAt - inside).toBeLessThan(30_000);
    // It waited for the slow answer (and the rest of the job) before it exited.
    expect(exitedAt - inside).toBeGreaterThanOrEqual(SLOW_MS - 200);
    expect(first!.stderr()).not.toMatch(/"level":(50|60)/);

    for (const token of [slowToken, laterToken])
      await eventually("the PAT to be revoked", async () => (await patStatus(token)) === 401, 20_000);
    await eventually("two mails", async () => smtp.messages.length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.messages.map((m) => m.subject).sort()).toEqual([
      'Your personal access token "later" was found in a public repository',
      'Your personal access token "slow" was found in a public repository',
    ]);
    // The slow push was read once (finished by the first worker, not redone); the later one by the second.
    expect(gh.requests.filter((r) => r.path.includes("/slow-dev/app/compare/"))).toHaveLength(1);
    expect(gh.requests.filter((r) => r.path.includes("/later-dev/app/compare/"))).toHaveLength(1);
    expect(await completedScans(second!)).toBe(1);
  });
});
