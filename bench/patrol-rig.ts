/**
 * What the pipeline benchmarks (`bench/pipeline.ts`, `bench/soak.ts`) share: patrol run as its own processes
 * (`patrol web`, `patrol worker`, `patrol start`) on a private redis-server (AOF on), a scratch PostgreSQL
 * database (on DATABASE_URL's server, default the local one; dropped at the end), the tests' fake GitHub and an
 * in-process SMTP server; the admin calls that set up a tenant and issue PATs; pushes prepared as real commits;
 * percentiles and RSS.
 *
 *   const rig = await startRig("soak");
 *   const web = await rig.start("web");
 *   await createBenchTenant(rig, web.url);
 *   const [push] = await preparePushes(rig, repo, [{ "src/a.txt": `AZURE_DEVOPS_EXT_PAT=${token}\n` }]);
 *   await rig.close();
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { type PrivateRedis, startPrivateRedis } from "../src/queue/index.js";
import {
  type FakeGitHub,
  type FakeRepository,
  type PushPayload,
  startFakeGitHub,
} from "../test/support/fake-github/index.js";
import { type SmtpCapture, startSmtpCapture } from "../test/support/smtp.js";

const CLI = path.resolve("dist/src/cli/main.js");

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
export const ms = (n: number): string => `${n.toFixed(1)} ms`;
export const sortNum = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

/** A process's resident set (VmRSS) in MiB, from /proc; NaN once it is gone. */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) a process has used, in seconds, from /proc; NaN once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th, in clock ticks (100/s).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export async function onServer(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface PatrolProcess {
  mode: "web" | "worker" | "start";
  child: ChildProcess;
  pid: number;
  url: string;
  /** The last 20 kB it wrote to stderr (LOG_LEVEL=warn: warnings and errors). */
  stderrTail(): string;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
}

export interface PatrolRig {
  env: NodeJS.ProcessEnv;
  /** The scratch database's URL. */
  databaseUrl: string;
  adminKey: string;
  webhookSecret: string;
  redis: PrivateRedis;
  gh: FakeGitHub;
  smtp: SmtpCapture;
  /** Starts `patrol MODE` as a child process and waits until it listens. */
  start(mode: PatrolProcess["mode"]): Promise<PatrolProcess>;
  /** An admin API call to a patrol process. */
  admin(url: string, method: string, route: string, body?: unknown): Promise<unknown>;
  /** Stops every process started here and removes the database, Redis, fake GitHub and SMTP server. */
  close(): Promise<void>;
}

export async function startRig(name: string, extraEnv: Record<string, string> = {}): Promise<PatrolRig> {
  const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const dbName = `patrol_bench_${name}_${process.pid}`;
  await onServer(serverUrl, `CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(serverUrl);
  dbUrl.pathname = `/${dbName}`;
  const dir = mkdtempSync(path.join(tmpdir(), `patrol-bench-${name}-`));
  const redis = await startPrivateRedis({ dir: path.join(dir, "redis") });
  const gh = await startFakeGitHub();
  const smtp = await startSmtpCapture();
  const webhookSecret = randomBytes(20).toString("hex");
  const adminKey = randomBytes(24).toString("hex");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...gh.env(webhookSecret),
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    PORT: "0",
    PATROL_DATA_DIR: path.join(dir, "data"),
    PATROL_ADMIN_KEY: adminKey,
    PATROL_SESSION_SECRET: randomBytes(32).toString("hex"),
    PATROL_AUDIT_KEY: randomBytes(32).toString("hex"),
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: redis.url,
    SMTP_URL: smtp.url,
    // The harness issues PATs and polls the API far faster than any client; the limits have their own tests.
    RATE_LIMIT_API_MAX: "1000000",
    RATE_LIMIT_PAT_AUTH_MAX: "1000000",
    ...extraEnv,
  };
  const started: PatrolProcess[] = [];

  async function start(mode: PatrolProcess["mode"]): Promise<PatrolProcess> {
    const child = spawn(process.execPath, [CLI, mode], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-20_000);
    });
    const url = await new Promise<string>((resolve, reject) => {
      const onData = () => {
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
        if (!m) return;
        child.stderr!.off("data", onData);
        child.off("exit", onExit);
        resolve(m[1]);
      };
      const onExit = (code: number | null) => reject(new Error(`patrol ${mode} exited (${code}): ${stderr}`));
      child.stderr!.on("data", onData);
      child.once("exit", onExit);
    });
    const running: PatrolProcess = {
      mode,
      child,
      pid: child.pid!,
      url,
      stderrTail: () => stderr,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      },
    };
    started.push(running);
    return running;
  }

  async function admin(url: string, method: string, route: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: { "x-patrol-admin-key": adminKey, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  return {
    env,
    databaseUrl: dbUrl.toString(),
    adminKey,
    webhookSecret,
    redis,
    gh,
    smtp,
    start,
    admin,
    async close() {
      for (const p of started) await p.stop().catch(() => {});
      await smtp.close();
      await gh.close();
      await redis.stop();
      await onServer(serverUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The organization and user the benchmarks' PATs belong to. */
export const BENCH_ORG = "bench-org";
const BENCH_USER = "dev@bench.example";

export async function createBenchTenant(rig: PatrolRig, url: string): Promise<void> {
  await rig.admin(url, "POST", "/_apis/patrol/tenants", { name: "bench" });
  await rig.admin(url, "POST", "/_apis/patrol/tenants/bench/organizations", { name: BENCH_ORG });
  await rig.admin(url, "POST", "/_apis/patrol/tenants/bench/users", {
    email: BENCH_USER,
    displayName: "Dev",
  });
}

/** Issues a live PAT through the lifecycle API; the secret is returned once, as to its owner. */
export async function issueBenchPat(
  rig: PatrolRig,
  url: string,
  displayName: string,
): Promise<{ token: string; authorizationId: string }> {
  const validTo = new Date(Date.now() + 7 * 86400_000).toISOString();
  const created = (await rig.admin(
    url,
    "POST",
    `/${BENCH_ORG}/_apis/tokens/pats?api-version=7.1-preview.1&user=${encodeURIComponent(BENCH_USER)}`,
    { displayName, scope: "vso.code", validTo, allOrgs: false },
  )) as { patToken: { token: string; authorizationId: string } };
  return created.patToken;
}

/** Repositories of the bench organization with one commit each, ready for pushes. */
export async function createBenchRepos(
  rig: PatrolRig,
  prefix: string,
  count: number,
): Promise<FakeRepository[]> {
  const repos: FakeRepository[] = [];
  for (let r = 0; r < count; r++) {
    const repo = await rig.gh.createRepo(BENCH_ORG, `${prefix}${r}`);
    await repo.commit({ message: "init", files: { "README.md": "# repo\n" } });
    repos.push(repo);
  }
  return repos;
}

/** Marks the harness's own compare requests in the fake's request log (the fake ignores the query). */
export const WARM_UP_QUERY = "bench-warm-up=1";

export interface PreparedPush {
  repo: FakeRepository;
  payload: PushPayload;
}

/**
 * One commit per entry of `changes` on the repository's default branch (one `git fast-import`), and the push
 * webhook of each commit on its own. The fake GitHub computes each compare once with git and remembers it:
 * it is asked now, so a timed run measures patrol rather than the fake (GitHub's own compare is not on this
 * machine's two cores).
 */
export async function preparePushes(
  rig: PatrolRig,
  repo: FakeRepository,
  changes: readonly Record<string, string>[],
): Promise<PreparedPush[]> {
  let before = (await repo.tip())!;
  const shas = await repo.commitMany(changes.map((files) => ({ files })));
  const token = rig.gh.createInstallationToken(repo.owner.login);
  const pushes: PreparedPush[] = [];
  for (const after of shas) {
    // forced: false saves the fake a `git merge-base` per push: these commits extend the branch.
    const payload = await repo.pushPayload({ before, after, forced: false });
    await fetch(`${rig.gh.apiUrl}/repos/${repo.fullName}/compare/${before}...${after}?${WARM_UP_QUERY}`, {
      headers: { authorization: `token ${token}` },
    }).then((r) => r.arrayBuffer());
    pushes.push({ repo, payload });
    before = after;
  }
  return pushes;
}

/** The PATs among `ids` that the store has revoked, with when. */
export async function revokedPats(
  client: pg.Client,
  ids: readonly string[],
): Promise<{ authorizationId: string; revokedAt: Date }[]> {
  if (ids.length === 0) return [];
  const { rows } = await client.query<{ authorization_id: string; revoked_at: Date }>(
    "SELECT authorization_id, revoked_at FROM pats WHERE authorization_id = ANY($1::uuid[]) AND status = 'revoked'",
    [ids],
  );
  return rows.map((r) => ({ authorizationId: r.authorization_id, revokedAt: r.revoked_at }));
}
