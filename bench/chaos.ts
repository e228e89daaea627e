/**
 * Chaos harness: `npm run chaos` (long: `npm run chaos -- --duration 600 --kills 100`).
 *
 * Runs patrol as separate OS processes — one `patrol web` and `--workers` (default 2) `patrol worker` — on a
 * private redis-server (AOF on, a fixed port so it can be restarted where its clients expect it), a scratch
 * PostgreSQL database on DATABASE_URL's server reached through a TCP proxy the harness can cut, an in-process
 * SMTP server that can refuse or hang, and the fake GitHub of the tests. Each scenario prepares pushes (real
 * commits on the fake GitHub, every other one carrying a freshly minted live PAT), delivers them as GitHub
 * does while one kind of fault is on, heals, and waits until everything settles:
 *
 *   kills         workers SIGKILLed at random moments and restarted (their jobs stall and are picked up)
 *   redis-restart Redis stopped (SIGTERM, then SIGKILL) and started again on its AOF
 *   postgres      the database unreachable for a while (jobs retry with backoff)
 *   smtp          the mail server refusing (550) and then hanging (client timeouts)
 *   redis-down    Redis down while webhooks arrive: they are answered 503, and patrol's scheduled redelivery
 *                 job (every 5 s here) has the fake GitHub redeliver them once Redis is back
 *   github        20% 5xx, secondary rate limits (403/429 + retry-after), primary ones (remaining 0 + reset)
 *
 * The table is counted from the sources of truth, not from patrol's counters: the SMTP server's received mails,
 * the database's PATs, incidents and audit events, and the fake GitHub's log of requests and deliveries. It exits
 * non-zero unless no leak is lost, nothing is doubled, every push was scanned and every rate-limit wait was
 * honoured.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { type PrivateRedis, startPrivateRedis } from "../src/queue/index.js";
import { type FakeGitHub, type FakeRepository, startFakeGitHub } from "../test/support/fake-github/index.js";
import { type SmtpCapture, startSmtpCapture } from "../test/support/smtp.js";

const CLI = path.resolve("dist/src/cli/main.js");
const SECRET = randomBytes(20).toString("hex");
const ADMIN_KEY = randomBytes(24).toString("hex");
const PREFIX = "{chaos}";
const ORG = "chaos-org";
const OWNER = "dev@chaos.example";

const SCENARIOS = ["kills", "redis-restart", "postgres", "smtp", "redis-down", "github"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

function log(message: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
}

// ---------------------------------------------------------------------------------------------------------
// The parts patrol runs on, with their faults.

/** A TCP proxy in front of PostgreSQL: `cut()` drops every connection and refuses new ones until `restore()`. */
async function startCuttableProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The private redis-server, restartable on its port and data (AOF). */
class RestartableRedis {
  private server: PrivateRedis | null = null;
  constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.server = await startPrivateRedis({ dir: this.dir, port: this.port });
  }
  /** SIGTERM (Redis flushes its AOF) or SIGKILL (what the OS page cache holds survives; nothing else). */
  async stop(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    if (!this.server) return;
    if (signal === "SIGKILL") {
      const pid = Number(readFileSync(path.join(this.dir, "redis.pid"), "utf8").trim());
      process.kill(pid, "SIGKILL");
      for (let i = 0; i < 200; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await sleep(25);
      }
    }
    await this.server.stop();
    this.server = null;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

// ---------------------------------------------------------------------------------------------------------
// patrol's processes.

interface PatrolProcess {
  name: string;
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
}

function spawnPatrol(
  mode: "web" | "worker",
  name: string,
  env: NodeJS.ProcessEnv,
  logDir: string,
): Promise<PatrolProcess> {
  const child = spawn(process.execPath, [CLI, mode], { env, stdio: ["ignore", "ignore", "pipe"] });
  const logFile = createWriteStream(path.join(logDir, `${name}.log`), { flags: "a" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let seen = "";
  let ready = false;
  return new Promise<PatrolProcess>((resolve, reject) => {
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      logFile.write(d);
      if (ready) return;
      seen = (seen + d).slice(-20_000);
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(seen);
      if (m) {
        ready = true;
        resolve({ name, child, url: m[1], exited });
      }
    });
    child.stderr!.once("end", () => logFile.end());
    child.once("exit", (code, signal) =>
      reject(new Error(`patrol ${mode} (${name}) exited (${code ?? signal}): ${seen.slice(-2000)}`)),
    );
  });
}

async function stopPatrol(p: PatrolProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 30_000);
  await p.exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------------
// Load.

interface Push {
  scenario: string;
  guid: string;
  repo: FakeRepository;
  before: string;
  after: string;
  payload: unknown;
  /** The live PAT it carries, if any. */
  authorizationId: string | null;
  sentAt: number;
  /** The answer to the first delivery (0: none). */
  firstStatus: number;
}

interface ScenarioRun {
  name: string;
  description: string;
  pushes: Push[];
  notes: string[];
  /** Seconds from healing to everything settled (or the deadline). */
  settleSeconds: number;
  settled: boolean;
  /** Rate-limit answers and how many of them the client did not wait out (github only). */
  waits?: { limited: number; early: number };
}

class Harness {
  readonly runs: ScenarioRun[] = [];
  private repos: FakeRepository[] = [];
  private pushCount = 0;
  readonly hookUrl: string;

  constructor(
    readonly gh: FakeGitHub,
    readonly webUrl: string,
    readonly db: pg.Client,
    readonly smtp: SmtpCapture,
    readonly queues: Queue[],
    readonly rate: number,
    /** Ids of the jobs BullMQ found stalled (their worker died mid-job) and handed to another worker. */
    readonly stalledJobIds: Set<string>,
  ) {
    this.hookUrl = `${webUrl}/api/github/webhooks`;
  }

  async admin(method: string, route: string, body?: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${this.webUrl}${route}`, {
        method,
        headers: { "x-patrol-admin-key": ADMIN_KEY, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status < 300) return text ? JSON.parse(text) : null;
      // patrol web may still be reconnecting to PostgreSQL after the previous scenario.
      if (response.status >= 500 && attempt < 20) {
        await sleep(500);
        continue;
      }
      throw new Error(`${method} ${route}: ${response.status} ${text}`);
    }
  }

  async setUp(): Promise<void> {
    await this.admin("POST", "/_apis/patrol/tenants", { name: "chaos" });
    await this.admin("POST", "/_apis/patrol/tenants/chaos/organizations", { name: ORG });
    await this.admin("POST", "/_apis/patrol/tenants/chaos/users", { email: OWNER, displayName: "Dev" });
    for (let r = 0; r < 8; r++) {
      const repo = await this.gh.createRepo(ORG, `repo${r}`);
      await repo.commit({ message: "init", files: { "README.md": "# repo\n" } });
      this.repos.push(repo);
    }
  }

  /** Real commits, every other one with a live PAT in it (minted now, so it is active until patrol acts). */
  async prepare(scenario: string, count: number): Promise<Push[]> {
    const validTo = new Date(Date.now() + 7 * 86400_000).toISOString();
    const pushes: Push[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.pushCount++;
      const repo = this.repos[n % this.repos.length];
      let content = `change ${n}\n`;
      let authorizationId: string | null = null;
      if (i % 2 === 0) {
        const created = (await this.admin(
          "POST",
          `/${ORG}/_apis/tokens/pats?api-version=7.1-preview.1&user=${encodeURIComponent(OWNER)}`,
          { displayName: `chaos ${scenario} ${n}`, scope: "vso.code", validTo, allOrgs: false },
        )) as { patToken: { token: string; authorizationId: string } };
        content += `AZURE_DEVOPS_EXT_PAT=${created.patToken.token}\n`;
        authorizationId = created.patToken.authorizationId;
      }
      const before = (await repo.tip())!;
      const after = await repo.commit({ files: { [`src/f${n}.txt`]: content } });
      pushes.push({
        scenario,
        guid: randomUUID(),
        repo,
        before,
        after,
        payload: await repo.pushPayload({ before, after }),
        authorizationId,
        sentAt: 0,
        firstStatus: 0,
      });
    }
    return pushes;
  }

  /** Delivers the pushes at `rate` a second; resolves when all have been answered. */
  async deliver(pushes: Push[]): Promise<void> {
    const started = Date.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < pushes.length; i++) {
      const wait = started + (i * 1000) / this.rate - Date.now();
      if (wait > 0) await sleep(wait);
      const push = pushes[i];
      push.sentAt = Date.now();
      inFlight.push(
        this.gh
          .deliver({
            url: this.hookUrl,
            event: "push",
            payload: push.payload,
            secret: SECRET,
            deliveryId: push.guid,
          })
          .then((record) => {
            push.firstStatus = record.statusCode;
          }),
      );
    }
    await Promise.all(inFlight);
  }

  /**
   * Waits until patrol's redelivery job has asked the fake GitHub to redeliver every delivery of these pushes
   * that was not answered 2xx; says how many were refused, redelivered, and redelivered more than once.
   */
  async patrolRedeliveries(pushes: Push[], timeoutMs: number): Promise<string> {
    const refused = new Set(pushes.filter((p) => p.firstStatus !== 202).map((p) => p.guid));
    const end = Date.now() + timeoutMs;
    let redelivered = new Map<string, number>();
    while (Date.now() < end) {
      redelivered = new Map();
      for (const d of this.gh.deliveries)
        if (d.redelivery && refused.has(d.guid)) redelivered.set(d.guid, (redelivered.get(d.guid) ?? 0) + 1);
      if (redelivered.size >= refused.size) break;
      await sleep(1000);
    }
    const twice = [...redelivered.values()].filter((n) => n > 1).length;
    return `${refused.size} of ${pushes.length} deliveries refused; ${redelivered.size} redelivered by patrol's job (${twice} more than once)`;
  }

  scannedPushes(pushes: Push[]): Set<Push> {
    const ok = new Set<string>();
    for (const r of this.gh.requests)
      if (r.status === 200 && r.path.includes("/compare/")) ok.add(r.path.replace(/^\/api\/v3/, ""));
    return new Set(
      pushes.filter((p) => ok.has(`/repos/${p.repo.fullName}/compare/${p.before}...${p.after}`)),
    );
  }

  /** Waits until every push was scanned and every PAT revoked, audited and mailed, or `deadlineMs` passes. */
  async settle(pushes: Push[], deadlineMs: number): Promise<boolean> {
    const ids = pushes.flatMap((p) => (p.authorizationId ? [p.authorizationId] : []));
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
      const truth = await this.truth(ids);
      const done =
        this.scannedPushes(pushes).size === pushes.length &&
        ids.every((id) => truth.revoked.has(id) && truth.discovered.has(id) && truth.mailed.has(id));
      if (done) return true;
      await sleep(1000);
    }
    return false;
  }

  /** What the database and the SMTP server say about these PATs. */
  async truth(ids: string[]) {
    const { rows: revokedRows } = await this.db.query<{ authorization_id: string; revoked_at: Date }>(
      "SELECT authorization_id, revoked_at FROM pats WHERE authorization_id = ANY($1::uuid[]) AND status = 'revoked'",
      [ids],
    );
    const revoked = new Map(revokedRows.map((r) => [r.authorization_id, r.revoked_at.getTime()]));
    const { rows: events } = await this.db.query<{
      action_id: string;
      authorization_id: string;
      location: string;
    }>(
      `SELECT action_id, data ->> 'authorizationId' AS authorization_id,
              concat_ws(' ', data ->> 'commit', data ->> 'path', data ->> 'line') AS location
       FROM audit_events
       WHERE action_id IN ('Token.PatSystemRevokeEvent', 'Token.PatPublicDiscoveryEvent')
         AND data ->> 'authorizationId' = ANY($1::text[])`,
      [ids],
    );
    const revokeEvents = new Map<string, number>();
    const discoveryEvents = new Map<string, number>();
    const discovered = new Set<string>();
    for (const e of events) {
      if (e.action_id === "Token.PatSystemRevokeEvent")
        revokeEvents.set(e.authorization_id, (revokeEvents.get(e.authorization_id) ?? 0) + 1);
      else {
        discovered.add(e.authorization_id);
        const key = `${e.authorization_id} ${e.location}`;
        discoveryEvents.set(key, (discoveryEvents.get(key) ?? 0) + 1);
      }
    }
    const { rows: incidents } = await this.db.query<{
      id: string;
      authorization_id: string;
      fingerprint: string;
    }>(
      "SELECT id, authorization_id, fingerprint FROM leak_incidents WHERE authorization_id = ANY($1::uuid[])",
      [ids],
    );
    // A notice job that was running when its worker was killed: if the SMTP server had taken the mail but the
    // store had not recorded it, the next worker sends it again (same Message-ID). That is SMTP's own gap.
    const noticeStalled = new Set(
      incidents
        .filter((i) => this.stalledJobIds.has(`notice-${i.fingerprint}`))
        .map((i) => i.authorization_id),
    );
    const byIncident = new Map(incidents.map((i) => [`<incident-${i.id}@patrol>`, i.authorization_id]));
    const mails = new Map<string, number>();
    for (const mail of this.smtp.messages) {
      const id = mail.messageId ? byIncident.get(mail.messageId) : undefined;
      if (id) mails.set(id, (mails.get(id) ?? 0) + 1);
    }
    return {
      revoked,
      revokeEvents,
      discoveryEvents,
      discovered,
      mailed: new Set(mails.keys()),
      mails,
      noticeStalled,
    };
  }

  async queueCounts(): Promise<Record<string, number>> {
    const total: Record<string, number> = {};
    for (const q of this.queues) {
      const counts = await q.getJobCounts("waiting", "active", "delayed", "prioritized", "failed");
      for (const [k, v] of Object.entries(counts)) total[k] = (total[k] ?? 0) + v;
    }
    return total;
  }

  /** Until no job waits, runs or is delayed: late retries (and what they might double) have happened. */
  async waitIdle(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    let quiet = 0;
    while (Date.now() < end) {
      const c = await this.queueCounts().catch(() => null);
      if (c && c.waiting + c.active + c.delayed + c.prioritized === 0) {
        if (++quiet >= 3) return true;
      } else quiet = 0;
      await sleep(1000);
    }
    return false;
  }

  async run(
    name: string,
    description: string,
    seconds: number,
    chaos: (load: Promise<void>, pushes: Push[]) => Promise<string[]>,
    options: { settleMs?: number } = {},
  ): Promise<ScenarioRun> {
    const count = Math.max(4, Math.round(seconds * this.rate));
    log(`${name}: preparing ${count} pushes`);
    const pushes = await this.prepare(name, count);
    log(`${name}: ${description}, ${count} pushes over ~${seconds} s`);
    const load = this.deliver(pushes);
    const notes = await chaos(load, pushes);
    await load;
    const healed = Date.now();
    const settled = await this.settle(pushes, options.settleMs ?? 240_000);
    const run: ScenarioRun = {
      name,
      description,
      pushes,
      notes,
      settled,
      settleSeconds: (Date.now() - healed) / 1000,
    };
    log(`${name}: ${settled ? "settled" : "NOT settled"} ${run.settleSeconds.toFixed(0)} s after healing`);
    this.runs.push(run);
    return run;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The table.

interface Row {
  scenario: string;
  pushes: number;
  scanned: number;
  planted: number;
  revoked: number;
  mails: number;
  dupMails: number;
  /** Extra mails of notices whose job was killed mid-send (same Message-ID): counted apart, see README "Chaos". */
  resentAfterKill: number;
  dupRevocations: number;
  dupAudit: number;
  lost: number;
  p50: number;
  p99: number;
}

async function tabulate(h: Harness): Promise<{ rows: Row[]; total: Row }> {
  const rows: Row[] = [];
  for (const run of h.runs) {
    const ids = run.pushes.flatMap((p) => (p.authorizationId ? [p.authorizationId] : []));
    const truth = await h.truth(ids);
    const sentAt = new Map(run.pushes.map((p) => [p.authorizationId, p.sentAt]));
    const latencies = [...truth.revoked].map(([id, at]) => at - (sentAt.get(id) ?? at)).sort((a, b) => a - b);
    const extra = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
    const extraMails = (afterKill: boolean) =>
      [...truth.mails].reduce(
        (s, [id, n]) => s + (truth.noticeStalled.has(id) === afterKill ? Math.max(0, n - 1) : 0),
        0,
      );
    rows.push({
      scenario: run.name,
      pushes: run.pushes.length,
      scanned: h.scannedPushes(run.pushes).size,
      planted: ids.length,
      revoked: truth.revoked.size,
      mails: [...truth.mails.values()].reduce((s, n) => s + n, 0),
      dupMails: extraMails(false),
      resentAfterKill: extraMails(true),
      dupRevocations: extra(truth.revokeEvents),
      dupAudit: extra(truth.discoveryEvents),
      lost: ids.filter((id) => !truth.revoked.has(id) || !truth.discovered.has(id) || !truth.mailed.has(id))
        .length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    });
  }
  const sum = (k: keyof Row) => rows.reduce((s, r) => s + (r[k] as number), 0);
  const total: Row = {
    scenario: "total",
    pushes: sum("pushes"),
    scanned: sum("scanned"),
    planted: sum("planted"),
    revoked: sum("revoked"),
    mails: sum("mails"),
    dupMails: sum("dupMails"),
    resentAfterKill: sum("resentAfterKill"),
    dupRevocations: sum("dupRevocations"),
    dupAudit: sum("dupAudit"),
    lost: sum("lost"),
    p50: Number.NaN,
    p99: Number.NaN,
  };
  return { rows, total };
}

function printTable(rows: Row[], total: Row): void {
  const header = [
    "scenario",
    "pushes",
    "scanned",
    "leaks planted",
    "leaks revoked",
    "mails sent",
    "dup mails",
    "resent after a kill",
    "dup revocations",
    "dup audit events",
    "leaks lost",
    "push→revoked p50 / p99",
  ];
  const cells = (r: Row) => [
    r.scenario,
    String(r.pushes),
    String(r.scanned),
    String(r.planted),
    String(r.revoked),
    String(r.mails),
    String(r.dupMails),
    String(r.resentAfterKill),
    String(r.dupRevocations),
    String(r.dupAudit),
    String(r.lost),
    Number.isNaN(r.p50) ? "" : `${(r.p50 / 1000).toFixed(1)} s / ${(r.p99 / 1000).toFixed(1)} s`,
  ];
  const all = [header, ...rows.map(cells), cells(total)];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const line = (row: string[]) =>
    `| ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  console.log(line(header));
  console.log(
    `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`,
  );
  for (const row of rows) console.log(line(cells(row)));
  console.log(line(cells(total)));
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: "string" },
      kills: { type: "string" },
      workers: { type: "string" },
      rate: { type: "string" },
      seed: { type: "string" },
      keep: { type: "boolean" },
      scenarios: { type: "string" },
    },
  });
  const duration = Number(values.duration ?? 90);
  const kills = Number(values.kills ?? 15);
  const workerCount = Number(values.workers ?? 2);
  const rate = Number(values.rate ?? 2);
  const seed = Number(values.seed ?? Date.now() % 100_000);
  const wanted = new Set((values.scenarios ?? SCENARIOS.join(",")).split(",").map((x) => x.trim()));
  for (const name of wanted)
    if (!SCENARIOS.includes(name))
      throw new Error(`unknown scenario ${name}; known: ${SCENARIOS.join(", ")}`);
  const want = (name: string) => wanted.has(name);
  if (![duration, kills, workerCount, rate].every((n) => Number.isFinite(n) && n > 0))
    throw new Error("--duration, --kills, --workers and --rate take positive numbers");
  // Half the load time goes to the kills, the rest is shared by the other scenarios (at least 10 s each).
  const killSeconds = Math.max(10, duration / 2);
  const otherSeconds = Math.max(10, duration / 2 / 5);
  let random = seed;
  const rand = () => {
    random = (random * 1103515245 + 12345) % 2147483648;
    return random / 2147483648;
  };

  const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const dbName = `patrol_chaos_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const direct = new URL(serverUrl);
  direct.pathname = `/${dbName}`;
  const proxy = await startCuttableProxy({
    host: direct.hostname || "127.0.0.1",
    port: Number(direct.port || 5432),
  });
  const viaProxy = new URL(direct);
  viaProxy.hostname = "127.0.0.1";
  viaProxy.port = String(proxy.port);

  const dir = mkdtempSync(path.join(tmpdir(), "patrol-chaos-"));
  const logDir = path.join(dir, "logs");
  mkdirSync(logDir);
  const redis = new RestartableRedis(path.join(dir, "redis"), await freePort());
  await redis.start();
  const gh = await startFakeGitHub({ seed });
  const smtp = await startSmtpCapture();
  const smtpUrl = new URL(smtp.url);
  // A hung server must fail an attempt in seconds, not the default 20 s.
  for (const key of ["connectionTimeout", "greetingTimeout", "socketTimeout"])
    smtpUrl.searchParams.set(key, "3000");
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
    DATABASE_URL: viaProxy.toString(),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: PREFIX,
    SMTP_URL: smtpUrl.toString(),
    // The harness issues PATs and polls the API far faster than any client; the limits have their own tests.
    RATE_LIMIT_API_MAX: "1000000",
    RATE_LIMIT_PAT_AUTH_MAX: "1000000",
    // patrol's scheduled redelivery job recovers the deliveries refused while Redis is away; every 5 s here.
    WEBHOOK_REDELIVERY_INTERVAL_SECONDS: "5",
  };
  const db = new pg.Client({ connectionString: direct.toString() });
  const queueConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
  queueConnection.on("error", () => {});
  const queues = ["scan", "history", "respond", "notify"].map(
    (name) => new Queue(name, { connection: queueConnection, prefix: PREFIX }),
  );
  for (const q of queues) q.on("error", () => {});
  // BullMQ's own event stream in Redis: how many jobs a killed worker left stalled and another picked up.
  const stalled = new Map<string, number>();
  const stalledJobIds = new Set<string>();
  const events = queues.map((q) => {
    const e = new QueueEvents(q.name, {
      connection: { host: "127.0.0.1", port: redis.port },
      prefix: PREFIX,
    });
    e.on("error", () => {});
    e.on("stalled", ({ jobId }) => {
      stalled.set(q.name, (stalled.get(q.name) ?? 0) + 1);
      stalledJobIds.add(jobId);
    });
    return e;
  });
  const processes: PatrolProcess[] = [];
  let exitCode = 1;
  try {
    console.log(
      `patrol chaos — node ${process.version}, ${new Date().toISOString()}; duration ${duration} s, ${kills} kills, ${workerCount} workers, ${rate} pushes/s, seed ${seed}`,
    );
    console.log(`logs: ${logDir}${values.keep ? "" : " (removed at the end; --keep keeps them)"}`);
    const web = await spawnPatrol("web", "web", env, logDir);
    processes.push(web);
    const workers: PatrolProcess[] = [];
    let started = 0;
    const startWorker = async () => {
      const w = await spawnPatrol("worker", `worker-${started++ % workerCount}`, env, logDir);
      processes.push(w);
      return w;
    };
    for (let i = 0; i < workerCount; i++) workers.push(await startWorker());
    await db.connect();
    const h = new Harness(gh, web.url, db, smtp, queues, rate, stalledJobIds);
    await h.setUp();

    // 1. Workers SIGKILLed at random moments, again and again, and restarted.
    let killed = 0;
    if (want("kills"))
      await h.run("kills", `${kills} worker SIGKILLs at random moments`, killSeconds, async (load) => {
        let loadDone = false;
        void load.then(() => {
          loadDone = true;
        });
        // Slow compares keep scan jobs running, so a kill lands mid-job rather than between jobs.
        const slow = gh.faults.add({ kind: "latency", ms: 400, path: /\/compare\// });
        const interval = (killSeconds * 1000) / kills;
        let restartMs = 0;
        while (killed < kills) {
          // Spread over the load: the time a restart takes counts towards the gap before the next kill.
          await sleep(Math.max(100, interval * (0.2 + 1.6 * rand()) - restartMs));
          const index = Math.floor(rand() * workers.length);
          const victim = workers[index];
          victim.child.kill("SIGKILL");
          await victim.exited;
          killed++;
          const t = Date.now();
          workers[index] = await startWorker();
          restartMs = restartMs === 0 ? Date.now() - t : 0.8 * restartMs + 0.2 * (Date.now() - t);
          if (loadDone && killed % 10 === 0) log(`kills: ${killed} of ${kills} (load done, still killing)`);
        }
        slow.remove();
        const picked = [...stalled].map(([q, n]) => `${n} ${q}`).join(", ") || "none";
        return [`${killed} workers SIGKILLed and restarted; stalled jobs picked up: ${picked}`];
      });

    // 2. Redis restarted mid-run: once flushed (SIGTERM), once killed (SIGKILL), on its AOF.
    if (want("redis-restart"))
      await h.run(
        "redis-restart",
        "Redis restarted twice (SIGTERM, then SIGKILL)",
        otherSeconds,
        async (load, pushes) => {
          const notes: string[] = [];
          for (const signal of ["SIGTERM", "SIGKILL"] as const) {
            await sleep((otherSeconds * 1000) / 3);
            const t = Date.now();
            await redis.stop(signal);
            await sleep(2000);
            await redis.start();
            notes.push(`Redis ${signal}: down ${((Date.now() - t) / 1000).toFixed(1)} s`);
          }
          await load;
          notes.push(await h.patrolRedeliveries(pushes, 120_000));
          return notes;
        },
      );

    // 3. PostgreSQL unavailable for a while.
    const outage = Math.min(30, Math.max(8, otherSeconds * 0.6));
    if (want("postgres"))
      await h.run("postgres", `PostgreSQL cut for ${outage.toFixed(0)} s`, otherSeconds, async () => {
        await sleep((otherSeconds * 1000) / 5);
        proxy.cut();
        await sleep(outage * 1000);
        proxy.restore();
        return [`every connection to PostgreSQL cut, new ones refused, for ${outage.toFixed(0)} s`];
      });

    // 4. SMTP refusing (550), then hanging (client timeouts); revocation must not wait for the mail.
    if (want("smtp"))
      await h.run("smtp", "SMTP refusing (550), then hanging", otherSeconds, async (_load, pushes) => {
        const attemptsBefore = smtp.attempts;
        smtp.refuse({ stage: "rcpt", code: 550, message: "mailbox unavailable (chaos)" });
        await sleep((otherSeconds * 1000) / 2);
        smtp.heal();
        smtp.hang({ stage: "data" });
        await sleep((otherSeconds * 1000) / 2);
        // Revoked and audited while the mail could not go out?
        const ids = pushes.flatMap((p) => (p.authorizationId && p.sentAt > 0 ? [p.authorizationId] : []));
        const truth = await h.truth(ids);
        smtp.heal();
        return [
          `while mail failed: ${truth.revoked.size} of ${ids.length} leaks delivered so far revoked, ${truth.discovered.size} audited, ${truth.mailed.size} mailed; ${smtp.attempts - attemptsBefore} SMTP transactions refused or hung`,
        ];
      });

    // 5. Redis down while webhooks arrive: the route answers 503, GitHub records the deliveries as failed, and
    // patrol's scheduled redelivery job (GET /app/hook/deliveries, redeliver each failed guid once) recovers them.
    if (want("redis-down"))
      await h.run("redis-down", "Redis down while webhooks arrive", otherSeconds, async (load, pushes) => {
        await redis.stop("SIGTERM");
        const down = Date.now();
        await load;
        await redis.start();
        return [
          `Redis down ${((Date.now() - down) / 1000).toFixed(0)} s`,
          await h.patrolRedeliveries(pushes, 240_000),
        ];
      });

    // 5. GitHub: 20% 5xx, secondary and primary rate limits.
    const retryAfter = 2;
    const primaryWindows: { from: number; resetAt: number }[] = [];
    const ghRun = !want("github")
      ? undefined
      : await h.run("github", "GitHub 20% 5xx + secondary/primary rate limits", otherSeconds, async () => {
          const repos = /^\/repos\//;
          gh.faults.add({ kind: "error", status: 502, probability: 0.2, path: repos });
          gh.faults.add({
            kind: "secondary-rate-limit",
            status: 429,
            retryAfterSeconds: retryAfter,
            probability: 0.05,
            path: repos,
          });
          gh.faults.add({
            kind: "secondary-rate-limit",
            status: 403,
            retryAfterSeconds: retryAfter,
            probability: 0.05,
            path: repos,
          });
          for (let i = 0; i < 2; i++) {
            await sleep((otherSeconds * 1000) / 3);
            const resetInSeconds = 4;
            const from = Date.now();
            gh.faults.add({ kind: "primary-rate-limit", resetInSeconds, path: repos });
            primaryWindows.push({ from, resetAt: from + resetInSeconds * 1000 });
          }
          await sleep((otherSeconds * 1000) / 3);
          gh.faults.clear();
          return [];
        });
    // Waits honoured: after a rate-limited answer, the same request comes back no sooner than it was told.
    if (ghRun) {
      const requests = [...gh.requests].sort((a, b) => a.at - b.at);
      let limited = 0;
      let early = 0;
      const earlyDetails: string[] = [];
      let errors = 0;
      for (let i = 0; i < requests.length; i++) {
        const r = requests[i];
        if (r.fault === "error") errors++;
        if (r.fault !== "secondary-rate-limit" && r.fault !== "primary-rate-limit") continue;
        limited++;
        const next = requests
          .slice(i + 1)
          .find((n) => n.method === r.method && n.path === r.path && n.query === r.query);
        if (!next) continue;
        const window = primaryWindows.find((w) => r.at >= w.from - 50 && r.at <= w.resetAt);
        const due =
          r.fault === "primary-rate-limit" && window ? window.resetAt - 1000 : r.at + retryAfter * 1000;
        // x-ratelimit-reset has whole seconds: a client may come back up to a second before the fake's resetAt.
        if (next.at < due - 50) {
          early++;
          earlyDetails.push(
            `${r.method} ${r.path} ${r.status} ${r.fault} then ${next.status}${next.fault ? ` ${next.fault}` : ""} after ${next.at - r.at} ms (due ${due - r.at} ms)`,
          );
        }
      }
      ghRun.waits = { limited, early };
      for (const line of earlyDetails) log(`early retry: ${line}`);
      ghRun.notes.push(
        `${errors} answers 502, ${limited} rate-limited (secondary and primary); retried before the wait was over: ${early}`,
      );
    }

    log("all scenarios run; waiting for the queues to drain (late retries could still double something)");
    const idle = await h.waitIdle(300_000);
    const counts = await h.queueCounts();
    const { rows, total } = await tabulate(h);
    console.log(
      "\nchaos: counted from the SMTP server's mails, the database's PATs, incidents and audit events,",
    );
    console.log("and the fake GitHub's request log (scanned = its compare answered 200)\n");
    printTable(rows, total);
    console.log("");
    for (const run of h.runs)
      console.log(
        `- ${run.name}: ${run.description}; ${run.notes.join("; ")}${run.notes.length ? "; " : ""}settled ${run.settled ? "" : "NOT "}${run.settleSeconds.toFixed(0)} s after healing`,
      );
    console.log(
      `- queues at the end: ${idle ? "idle" : "NOT idle"} (waiting ${counts.waiting}, active ${counts.active}, delayed ${counts.delayed}, failed ${counts.failed})`,
    );
    const early = ghRun?.waits?.early ?? 0;
    const unscanned = total.pushes - total.scanned;
    const ok =
      total.lost === 0 &&
      total.dupMails + total.dupRevocations + total.dupAudit === 0 &&
      unscanned === 0 &&
      early === 0 &&
      idle &&
      counts.failed === 0;
    console.log(
      ok
        ? `\nPASS: nothing lost, nothing doubled, every push scanned, every wait honoured${total.resentAfterKill ? ` (${total.resentAfterKill} notice(s) resent, same Message-ID, after their worker was killed between the SMTP server's answer and the store's record)` : ""}`
        : `\nFAIL: lost ${total.lost}, duplicates ${total.dupMails + total.dupRevocations + total.dupAudit}, unscanned pushes ${unscanned}, early retries ${early}, queues ${idle ? "idle" : "not idle"}, failed jobs ${counts.failed}`,
    );
    exitCode = ok ? 0 : 1;
  } finally {
    for (const p of processes) await stopPatrol(p).catch(() => {});
    for (const q of queues) await q.close().catch(() => {});
    for (const e of events) await e.close().catch(() => {});
    queueConnection.disconnect();
    await db.end().catch(() => {});
    await smtp.close();
    await gh.close();
    await redis.stop("SIGTERM").catch(() => {});
    await proxy.close();
    const cleanup = new pg.Client({ connectionString: serverUrl });
    await cleanup
      .connect()
      .then(() => cleanup.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`))
      .catch(() => {});
    await cleanup.end().catch(() => {});
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
