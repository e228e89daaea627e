/**
 * Pipeline benchmark: `npm run bench:pipeline`.
 *
 * Runs patrol as its own process (`patrol web`, then `patrol start`) on a private redis-server (AOF on), a
 * PostgreSQL database of its own (DATABASE_URL's server, default the local one; dropped at the end), the fake
 * GitHub of the tests and an in-process SMTP server, and drives it with signed push webhooks:
 *
 * 1. ingest: `--webhooks` deliveries (default 5000) from `--concurrency` senders (default 64) to `patrol web`
 *    (no workers, so the queue only grows): deliveries accepted per second and p50/p95/p99 accept latency.
 * 2. push→revoked: `--rate` pushes a second (default 100) for `--seconds` (default 20) to `patrol start`, each
 *    a real commit on the fake GitHub, one in ten carrying a live PAT: p50/p95/p99 from sending the webhook to
 *    the PAT's `revoked_at` in the store, accept latency at that rate, mails received, patrol's RSS.
 *
 * Targets on the 2-core machine: ≥ 1,000 webhooks/s accepted with p99 < 50 ms; at 100 pushes/s, push→revoked
 * p99 < 1 s. The load generator shares the machine (and its two cores) with patrol, Redis and PostgreSQL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { startPrivateRedis } from "../src/queue/index.js";
import { type FakeGitHub, type FakeRepository, startFakeGitHub } from "../test/support/fake-github/index.js";
import { startSmtpCapture } from "../test/support/smtp.js";
import { postWebhook, webhookRequest } from "../test/support/webhooks.js";

const CLI = path.resolve("dist/src/cli/main.js");
const SECRET = randomBytes(20).toString("hex");
const ADMIN_KEY = randomBytes(24).toString("hex");

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const ms = (n: number) => `${n.toFixed(1)} ms`;
const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);

function rssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

async function onServer(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function startPatrol(
  mode: "web" | "start",
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, mode], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-20_000);
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`patrol ${mode} exited (${code}): ${stderr}`)));
  });
  return { child, url };
}

async function stopPatrol(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await gone;
}

async function admin(url: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { "x-patrol-admin-key": ADMIN_KEY, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

interface PreparedPush {
  repo: FakeRepository;
  payload: unknown;
  /** The PAT it carries, if any. */
  authorizationId: string | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      webhooks: { type: "string" },
      concurrency: { type: "string" },
      "ingest-rate": { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string" },
    },
  });
  const webhookCount = Number(values.webhooks ?? 5000);
  const concurrency = Number(values.concurrency ?? 32);
  const ingestRate = Number(values["ingest-rate"] ?? 1000);
  const rate = Number(values.rate ?? 100);
  const seconds = Number(values.seconds ?? 20);
  const pushes = rate * seconds;

  const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const dbName = `patrol_bench_pipeline_${process.pid}`;
  await onServer(serverUrl, `CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(serverUrl);
  dbUrl.pathname = `/${dbName}`;
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-bench-pipeline-"));
  const redis = await startPrivateRedis({ dir: path.join(dir, "redis") });
  const gh: FakeGitHub = await startFakeGitHub();
  const smtp = await startSmtpCapture();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...gh.env(SECRET),
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    PORT: "0",
    PATROL_DATA_DIR: path.join(dir, "data"),
    PATROL_ADMIN_KEY: ADMIN_KEY,
    PATROL_SESSION_SECRET: randomBytes(32).toString("hex"),
    PATROL_AUDIT_KEY: randomBytes(32).toString("hex"),
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: redis.url,
    SMTP_URL: smtp.url,
  };
  const children: ChildProcess[] = [];
  try {
    console.log(`patrol pipeline benchmark — node ${process.version}, ${new Date().toISOString()}`);
    // 1. Ingest, against patrol web alone.
    const web = await startPatrol("web", env);
    children.push(web.child);
    const ingestRepo = await gh.createRepo("bench-ingest", "app");
    const base = await ingestRepo.commit({ message: "init", files: { "README.md": "# app\n" } });
    const head = await ingestRepo.commit({ files: { "a.txt": "a\n" } });
    const ingestPayload = await ingestRepo.pushPayload({ before: base, after: head });
    const url = `${web.url}/api/github/webhooks`;
    for (let i = 0; i < 200; i++)
      await postWebhook({ url, event: "push", payload: ingestPayload, secret: SECRET });
    // Signed once: the signature covers the body only, and each delivery differs by its X-GitHub-Delivery.
    const signed = webhookRequest({ event: "push", payload: ingestPayload, secret: SECRET });
    const send = async (): Promise<{ ok: boolean; ms: number }> => {
      const t = performance.now();
      const r = await fetch(url, {
        method: "POST",
        headers: { ...signed.headers, "x-github-delivery": randomUUID() },
        body: signed.body,
      });
      await r.arrayBuffer();
      return { ok: r.status === 202, ms: performance.now() - t };
    };
    // a. throughput: closed loop, `concurrency` senders as fast as they go.
    const accept: number[] = [];
    let failed = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < webhookCount) {
          next++;
          const r = await send();
          if (r.ok) accept.push(r.ms);
          else failed++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const sortedAccept = sortNum(accept);
    // b. latency at a fixed rate (open loop): what a GitHub sending `ingestRate`/s sees.
    const atRate: number[] = [];
    let rateFailed = 0;
    const openStarted = Date.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < ingestRate * 5; i++) {
      const wait = openStarted + (i * 1000) / ingestRate - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(
        send().then((r) => {
          if (r.ok) atRate.push(r.ms);
          else rateFailed++;
        }),
      );
    }
    await Promise.all(pending);
    const openSeconds = (Date.now() - openStarted) / 1000;
    const sortedAtIngestRate = sortNum(atRate);
    const ingestRss = rssMiB(web.child.pid);
    await stopPatrol(web.child);

    // 2. Push → revoked, against patrol start.
    const start = await startPatrol("start", env);
    children.push(start.child);
    await admin(start.url, "POST", "/_apis/patrol/tenants", { name: "bench" });
    await admin(start.url, "POST", "/_apis/patrol/tenants/bench/organizations", { name: "bench-org" });
    await admin(start.url, "POST", "/_apis/patrol/tenants/bench/users", {
      email: "dev@bench.example",
      displayName: "Dev",
    });
    const repos: FakeRepository[] = [];
    for (let r = 0; r < 10; r++) {
      const repo = await gh.createRepo("bench-org", `repo${r}`);
      await repo.commit({ message: "init", files: { "README.md": "# repo\n" } });
      repos.push(repo);
    }
    const prepared: PreparedPush[] = [];
    const fakeToken = gh.createInstallationToken("bench-org");
    const validTo = new Date(Date.now() + 7 * 86400_000).toISOString();
    const prepStarted = performance.now();
    for (let i = 0; i < pushes; i++) {
      const repo = repos[i % repos.length];
      let content = `change ${i}\n`;
      let authorizationId: string | null = null;
      if (i % 10 === 5) {
        const created = (await admin(
          start.url,
          "POST",
          "/bench-org/_apis/tokens/pats?api-version=7.1-preview.1&user=dev%40bench.example",
          { displayName: `leak ${i}`, scope: "vso.code", validTo, allOrgs: false },
        )) as { patToken: { token: string; authorizationId: string } };
        content += `AZURE_DEVOPS_EXT_PAT=${created.patToken.token}\n`;
        authorizationId = created.patToken.authorizationId;
      }
      const before = (await repo.tip())!;
      const after = await repo.commit({ files: { [`src/f${i}.txt`]: content } });
      prepared.push({ repo, payload: await repo.pushPayload({ before, after }), authorizationId });
      // The fake GitHub computes each compare once with git and remembers it: compute it now, so the timed run
      // measures patrol rather than the fake (GitHub's own compare is not on this machine's two cores).
      await fetch(`${gh.apiUrl}/repos/${repo.fullName}/compare/${before}...${after}`, {
        headers: { authorization: `token ${fakeToken}` },
      }).then((r) => r.arrayBuffer());
    }
    const prepSeconds = (performance.now() - prepStarted) / 1000;
    const rssBefore = rssMiB(start.child.pid);
    const sentAt = new Map<string, number>();
    const acceptAtRate: number[] = [];
    let rateFailures = 0;
    const hook = `${start.url}/api/github/webhooks`;
    const loadStarted = Date.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < prepared.length; i++) {
      const due = loadStarted + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const push = prepared[i];
      const sent = Date.now();
      if (push.authorizationId) sentAt.set(push.authorizationId, sent);
      inFlight.push(
        postWebhook({ url: hook, event: "push", payload: push.payload, secret: SECRET }).then((r) => {
          if (r.status === 202) acceptAtRate.push(r.durationMs);
          else rateFailures++;
        }),
      );
    }
    await Promise.all(inFlight);
    const sendSeconds = (Date.now() - loadStarted) / 1000;
    const client = new pg.Client({ connectionString: dbUrl.toString() });
    await client.connect();
    const ids = [...sentAt.keys()];
    let revoked: { authorization_id: string; revoked_at: Date }[] = [];
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        "SELECT authorization_id, revoked_at FROM pats WHERE authorization_id = ANY($1::uuid[]) AND status = 'revoked'",
        [ids],
      );
      revoked = rows;
      if (revoked.length === ids.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await client.end();
    const latencies = sortNum(revoked.map((r) => r.revoked_at.getTime() - sentAt.get(r.authorization_id)!));
    await smtp.waitFor(ids.length, 60_000).catch(() => {});
    const rssAfter = rssMiB(start.child.pid);
    await stopPatrol(start.child);

    const sortedAtRate = sortNum(acceptAtRate);
    console.log("\n1. ingest (patrol web, no workers)");
    console.log(
      `   throughput: ${(accept.length / elapsed).toFixed(0)} webhooks/s (${accept.length} accepted, ${failed} failed, ${concurrency} senders, ${elapsed.toFixed(1)} s); latency p50 ${ms(percentile(sortedAccept, 50))}, p99 ${ms(percentile(sortedAccept, 99))}`,
    );
    console.log(
      `   at ${ingestRate} webhooks/s for 5 s: ${atRate.length} accepted, ${rateFailed} failed, in ${openSeconds.toFixed(1)} s; accept latency p50 ${ms(percentile(sortedAtIngestRate, 50))}, p95 ${ms(percentile(sortedAtIngestRate, 95))}, p99 ${ms(percentile(sortedAtIngestRate, 99))}`,
    );
    console.log(`   patrol web RSS after: ${ingestRss.toFixed(0)} MiB`);
    console.log(
      `\n2. push→revoked (patrol start, ${rate} pushes/s for ${seconds} s, 1 in 10 with a live PAT)`,
    );
    console.log(
      `   pushes: ${prepared.length} sent in ${sendSeconds.toFixed(1)} s (${rateFailures} not accepted); prepared in ${prepSeconds.toFixed(0)} s`,
    );
    console.log(
      `   accept latency at ${rate}/s: p50 ${ms(percentile(sortedAtRate, 50))}, p95 ${ms(percentile(sortedAtRate, 95))}, p99 ${ms(percentile(sortedAtRate, 99))}`,
    );
    console.log(
      `   PATs planted: ${ids.length}, revoked: ${revoked.length}, mails received: ${smtp.messages.length}`,
    );
    console.log(
      `   push→revoked: p50 ${ms(percentile(latencies, 50))}, p95 ${ms(percentile(latencies, 95))}, p99 ${ms(percentile(latencies, 99))}, max ${ms(latencies[latencies.length - 1] ?? Number.NaN)}`,
    );
    console.log(
      `   patrol start RSS: ${rssBefore.toFixed(0)} MiB before the load, ${rssAfter.toFixed(0)} MiB after`,
    );
  } finally {
    for (const child of children) await stopPatrol(child).catch(() => {});
    await smtp.close();
    await gh.close();
    await redis.stop();
    await onServer(serverUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
