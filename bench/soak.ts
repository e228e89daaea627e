/**
 * Soak: `npm run soak [-- --duration SECONDS --rate N]` (default 1800 s at 100 pushes/s; CI runs 120 s).
 *
 * patrol as separate processes — `patrol web` and `patrol worker` — on a private redis-server (AOF on), a
 * scratch PostgreSQL database (DATABASE_URL's server, default the local one), the tests' fake GitHub and an
 * in-process SMTP server (see `patrol-rig.ts`), driven at a fixed rate (open loop) with signed push webhooks;
 * `--leak-share` of them (default 0.1) carry a freshly issued live PAT, the rest clean diffs.
 *
 * Every `--every` seconds (default 30) a line: pushes sent, leaks revoked, RSS of each patrol process and of
 * this harness (which also runs the fake GitHub and the SMTP server), queue depths, Redis used_memory and the
 * window's push→revoked percentiles. At the end: totals from the sources of truth (SMTP server, database,
 * audit log), memory slope over the steady state, queue trend, overall latency, and the checks — exit 1 if
 * any fails:
 *   - lost 0, duplicates 0: every planted PAT revoked and mailed exactly once, one discovery and one
 *     revocation audit event each; every webhook accepted; no job failed for good;
 *   - no growing queues: jobs waiting in any queue when the sending stops ≤ `--max-waiting` (default two
 *     seconds of pushes);
 *   - steady memory: each patrol process's RSS, fitted by least squares over the steady state (after
 *     `--warmup`), grows by ≤ `--max-growth` MiB (default 64, or 128 when the steady state is under 10 minutes:
 *     a short window can sit on the rising edge of V8's ~100 MiB sawtooth);
 *   - push→revoked p99 of the pushes sent in the steady state ≤ `--p99-target` ms (default 1000: the pipeline's
 *     target, README "The pipeline"); the whole run's percentiles, start-up included, are printed beside it.
 *
 * Clean pushes are a pool of real commits prepared before the run (their compares computed once by the fake),
 * replayed with fresh delivery ids: each is a new scan job that fetches and scans its diff, as a new push
 * would, without the fake spending two cores on `git` at 100 commits a second. Leaky pushes are all new:
 * a PAT is issued, committed and pushed once. The first `--lead` seconds' worth (default 120: all of CI's run)
 * are prepared before the run, the rest in the background, staying that far ahead.
 */
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { Redis } from "ioredis";
import pg from "pg";
import { openQueues, type PatrolQueues } from "../src/queue/index.js";
import type { FakeRepository, PushPayload } from "../test/support/fake-github/index.js";
import { webhookRequest } from "../test/support/webhooks.js";
import {
  cpuSeconds,
  createBenchRepos,
  createBenchTenant,
  issueBenchPat,
  type PatrolProcess,
  type PatrolRig,
  percentile,
  preparePushes,
  revokedPats,
  rssMiB,
  sortNum,
  startRig,
  WARM_UP_QUERY,
} from "./patrol-rig.js";

const QUEUE_PREFIX = "{soak}";
const WATCHED_QUEUES = ["scan", "respond", "notify"] as const;
const LEAK_NAME = /"(soak leak \d+)"/;
const INTERRUPTED = new Error("interrupted (SIGINT); stopped and cleaned up");

interface Options {
  duration: number;
  rate: number;
  every: number;
  leakShare: number;
  warmup: number;
  lead: number;
  p99Target: number;
  maxGrowth: number;
  maxWaiting: number;
  drainTimeout: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: "string" },
      rate: { type: "string" },
      every: { type: "string" },
      "leak-share": { type: "string" },
      warmup: { type: "string" },
      lead: { type: "string" },
      "p99-target": { type: "string" },
      "max-growth": { type: "string" },
      "max-waiting": { type: "string" },
      "drain-timeout": { type: "string" },
    },
  });
  const num = (name: keyof typeof values, fallback: number, min = 0): number => {
    const raw = values[name];
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name}: expected a number ≥ ${min}, got ${raw}`);
    return n;
  };
  const duration = num("duration", 1800, 10);
  const rate = num("rate", 100, 1);
  // V8 sizes its heaps and the JIT settles in the first minute; shorter runs keep three quarters as steady.
  const warmup = num("warmup", Math.min(60, duration / 4));
  return {
    duration,
    rate,
    every: num("every", 30, 1),
    leakShare: num("leak-share", 0.1),
    warmup,
    lead: num("lead", 120, 1),
    p99Target: num("p99-target", 1000),
    maxGrowth: num("max-growth", duration - warmup >= 600 ? 64 : 128),
    maxWaiting: num("max-waiting", rate * 2),
    drainTimeout: num("drain-timeout", 120, 1),
  };
}

interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

interface Sample {
  /** Seconds since the sending started. */
  t: number;
  rss: { web: number; worker: number; harness: number };
  /** CPU seconds used so far, to show who had the machine's cores. */
  cpu: { web: number; worker: number; harness: number; redis: number };
  queues: Record<string, QueueCounts>;
  redisUsedMiB: number;
}

async function sample(
  t: number,
  web: PatrolProcess,
  worker: PatrolProcess,
  queues: PatrolQueues,
): Promise<Sample> {
  const counts: Record<string, QueueCounts> = {};
  for (const queue of queues.all) {
    if (!(WATCHED_QUEUES as readonly string[]).includes(queue.name)) continue;
    const c = await queue.getJobCounts("waiting", "prioritized", "active", "delayed", "failed");
    counts[queue.name] = {
      waiting: c.waiting + c.prioritized,
      active: c.active,
      delayed: c.delayed,
      failed: c.failed,
    };
  }
  const info = await queues.connection.info();
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0);
  return {
    t,
    rss: { web: rssMiB(web.pid), worker: rssMiB(worker.pid), harness: rssMiB(process.pid) },
    cpu: {
      web: cpuSeconds(web.pid),
      worker: cpuSeconds(worker.pid),
      harness: cpuSeconds(process.pid),
      redis: cpuSeconds(redisPid),
    },
    queues: counts,
    redisUsedMiB: used / 1024 / 1024,
  };
}

/** Least-squares slope of y over x. */
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

interface PreparedLeak {
  payload: PushPayload;
  authorizationId: string;
  displayName: string;
}

/** Leaky pushes made ahead of the sender: a PAT issued, committed to a repository, pushed once each. */
class LeakSupply {
  private readonly ready: PreparedLeak[] = [];
  private next = 0;
  private running = false;
  private stopped: Promise<void> = Promise.resolve();
  prepared = 0;
  error: Error | null = null;

  constructor(
    private readonly rig: PatrolRig,
    private readonly webUrl: string,
    private readonly repos: FakeRepository[],
    private readonly batch: number,
    /** How many the run needs in all. */
    private readonly needed: number,
  ) {}

  get available(): number {
    return this.ready.length;
  }

  take(): PreparedLeak | undefined {
    return this.ready.shift();
  }

  /** One batch on every repository at once (each repository's git runs one thing at a time). */
  async fillOnce(): Promise<void> {
    await Promise.all(
      this.repos.map((repo) => {
        // prepareBatch claims its names before its first await, so each repository gets the next ones
        const n = Math.min(this.batch, this.needed - this.next);
        return n > 0 ? this.prepareBatch(repo, n) : undefined;
      }),
    );
  }

  get done(): boolean {
    return this.next >= this.needed;
  }

  /** Keeps at least `target()` leaks ready until stopped. */
  start(target: () => number): void {
    this.running = true;
    this.stopped = (async () => {
      while (this.running && !this.done) {
        if (this.ready.length >= target()) {
          await sleep(100);
          continue;
        }
        try {
          await this.fillOnce();
        } catch (error) {
          this.error = error as Error;
          this.running = false;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.stopped;
  }

  private async prepareBatch(repo: FakeRepository, count: number): Promise<void> {
    const names = Array.from({ length: count }, () => `soak leak ${this.next++}`);
    const pats = await Promise.all(names.map((name) => issueBenchPat(this.rig, this.webUrl, name)));
    const changes = pats.map((pat, k) => ({
      [`config/leak-${names[k].slice(10)}.env`]: `# deploy settings\nAZURE_DEVOPS_EXT_PAT=${pat.token}\n`,
    }));
    const pushes = await preparePushes(this.rig, repo, changes);
    for (const [k, push] of pushes.entries())
      this.ready.push({
        payload: push.payload,
        authorizationId: pats[k].authorizationId,
        displayName: names[k],
      });
    this.prepared += pushes.length;
  }
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "-");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
const queueCell = (c: QueueCounts | undefined) =>
  c ? `${c.waiting}/${c.active}/${c.delayed}/${c.failed}` : "-";

async function main(): Promise<void> {
  const o = options();
  let fatal: Error | null = null;
  // Ctrl-C: stop, and clean up (processes, the scratch database, Redis) rather than die and leave them.
  process.once("SIGINT", () => {
    fatal ??= INTERRUPTED;
  });
  const rig = await startRig("soak", { QUEUE_PREFIX });
  let queues: PatrolQueues | null = null;
  let client: pg.Client | null = null;
  try {
    console.log(
      `patrol soak — ${o.rate} pushes/s for ${o.duration} s, ${o.leakShare * 100}% with a live PAT; patrol web + patrol worker on PostgreSQL and redis-server; node ${process.version}, ${new Date().toISOString()}`,
    );
    const web = await rig.start("web");
    const worker = await rig.start("worker");
    await createBenchTenant(rig, web.url);
    queues = openQueues({ redis: rig.redis.url, prefix: QUEUE_PREFIX });
    client = new pg.Client({ connectionString: rig.databaseUrl });
    await client.connect();

    const prepStarted = performance.now();
    const cleanRepos = await createBenchRepos(rig, "clean", 8);
    const cleanPool = (
      await Promise.all(
        cleanRepos.map((repo, r) =>
          preparePushes(
            rig,
            repo,
            Array.from({ length: 25 }, (_, i) => ({
              [`src/module${i % 5}/file${r}-${i}.ts`]:
                `export const value${i} = ${i};\n// change ${r}-${i}\n`.repeat(1 + (i % 4)),
            })),
          ),
        ),
      )
    ).flat();
    // Signed once: the signature covers the body only, and each delivery differs by its X-GitHub-Delivery.
    const cleanSigned = cleanPool.map((push) =>
      webhookRequest({ event: "push", payload: push.payload, secret: rig.webhookSecret }),
    );
    const leakRate = o.rate * o.leakShare;
    const supply = new LeakSupply(
      rig,
      web.url,
      await createBenchRepos(rig, "leaky", 4),
      10,
      Math.ceil(o.rate * o.duration * o.leakShare),
    );
    while (!supply.done && supply.available < leakRate * o.lead && !fatal) await supply.fillOnce();
    if (fatal) throw fatal;
    console.log(
      `prepared ${cleanPool.length} clean pushes and ${supply.available} leaky ones in ${((performance.now() - prepStarted) / 1000).toFixed(0)} s; ${supply.done ? "all the run needs" : `the rest are prepared during the run, ${o.lead} s ahead`}`,
    );
    supply.start(() => leakRate * o.lead);

    // The run's state.
    const hook = `${web.url}/api/github/webhooks`;
    const pending = new Map<string, number>(); // authorizationId → sent at (ms), until seen revoked
    const planted = new Map<string, string>(); // authorizationId → display name
    let sent = 0;
    let accepted = 0;
    const notAccepted: string[] = [];
    let leaksShort = 0;
    let revokedSeen = 0;
    /** Push→revoked of every leak, with when (seconds into the run) it was pushed. */
    const allLatencies: { sentT: number; ms: number }[] = [];
    let windowLatencies: number[] = [];
    const acceptLatencies: number[] = [];
    let comparesServed = 0;
    // How long the fake GitHub (in this process) took to answer patrol's compares: when the harness is starved
    // of CPU, patrol waits on it.
    const compareLatencies: number[] = [];
    const samples: Sample[] = [];
    const inFlight = new Set<Promise<void>>();

    const post = (request: { body: Buffer; headers: Record<string, string> }): Promise<void> => {
      const started = performance.now();
      const p = fetch(hook, {
        method: "POST",
        headers: { ...request.headers, "x-github-delivery": randomUUID() },
        body: request.body,
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (r) => {
          await r.arrayBuffer();
          if (r.status === 202) {
            accepted++;
            acceptLatencies.push(performance.now() - started);
          } else notAccepted.push(`HTTP ${r.status}`);
        })
        .catch((error: Error) => {
          notAccepted.push(error.message);
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      return p;
    };

    // Mails by the leak named in their subject; tallied and dropped as they come, or the capture would keep
    // every parsed message (tens of kB each) for the whole run.
    const mailsByName = new Map<string, number>();
    const tallyMails = () => {
      for (const m of rig.smtp.messages) {
        const name = LEAK_NAME.exec(m.subject)?.[1];
        if (name) mailsByName.set(name, (mailsByName.get(name) ?? 0) + 1);
      }
      rig.smtp.clear();
    };
    const countCompares = () => {
      for (const r of rig.gh.requests) {
        if (!r.path.includes("/compare/") || r.status !== 200 || r.query.includes(WARM_UP_QUERY)) continue;
        comparesServed++;
        compareLatencies.push(r.durationMs);
      }
      rig.gh.clearRequests(); // the fake keeps every request otherwise: the harness's memory would grow
    };

    const pollRevocations = async () => {
      const found = await revokedPats(client!, [...pending.keys()]);
      for (const r of found) {
        const sentAt = pending.get(r.authorizationId)!;
        const latency = r.revokedAt.getTime() - sentAt;
        pending.delete(r.authorizationId);
        revokedSeen++;
        allLatencies.push({ sentT: (sentAt - loadStarted) / 1000, ms: latency });
        windowLatencies.push(latency);
      }
    };

    const loadStarted = Date.now();
    const elapsed = () => (Date.now() - loadStarted) / 1000;
    let sending = true;
    const poller = (async () => {
      while (sending || pending.size > 0) {
        await pollRevocations().catch((error) => console.error(`revocation poll: ${error.message}`));
        await sleep(250);
        if (!sending && elapsed() > o.duration + o.drainTimeout) break;
      }
    })();

    console.log(
      "  time  pushes  leaks revoked │ RSS MiB web/worker/harness │ CPU % web/worker/harness/redis │ redis MiB │ jobs waiting/active/delayed/failed: scan │ respond │ notify │ load │ push→revoked p50/p95/p99 ms (n)",
    );
    let previous: Sample | null = null;
    const printLine = (s: Sample) => {
      const w = sortNum(windowLatencies);
      windowLatencies = [];
      const cpu = (["web", "worker", "harness", "redis"] as const)
        .map((p) => (previous ? f0(((s.cpu[p] - previous.cpu[p]) / (s.t - previous.t)) * 100) : "-"))
        .join("/");
      previous = s;
      const cells = [
        `${`${f0(s.t)}s`.padStart(6)} ${String(sent).padStart(7)} ${String(planted.size).padStart(6)} ${String(revokedSeen).padStart(7)}`,
        [s.rss.web, s.rss.worker, s.rss.harness].map(f0).join("/"),
        cpu,
        f1(s.redisUsedMiB),
        ...WATCHED_QUEUES.map((q) => queueCell(s.queues[q])),
        loadavg()[0].toFixed(1),
        `${[50, 95, 99].map((p) => f0(percentile(w, p))).join("/")} (${w.length})`,
      ];
      console.log(cells.join(" │ "));
    };
    const sampleEvery = Math.min(5, o.every);
    let nextLine = o.every;
    const sampler = (async () => {
      let tick = 1;
      while (sending && !fatal) {
        const wait = loadStarted + tick * sampleEvery * 1000 - Date.now();
        if (wait > 0) await sleep(wait);
        if (!sending) break;
        tick++;
        countCompares();
        tallyMails();
        const s = await sample(elapsed(), web, worker, queues!);
        samples.push(s);
        if (s.t + 0.5 >= nextLine) {
          printLine(s);
          nextLine += o.every;
        }
        for (const p of [web, worker])
          if (p.child.exitCode !== null || p.child.signalCode !== null)
            fatal = new Error(`patrol ${p.mode} exited mid-run: ${p.stderrTail()}`);
      }
    })().catch((error: Error) => {
      fatal = error;
    });

    // The sender: push i is due at i / rate seconds; one in 1/share carries a PAT, spread evenly.
    const total = Math.round(o.rate * o.duration);
    let cleanNext = 0;
    for (let i = 0; i < total && !fatal; i++) {
      const wait = loadStarted + (i * 1000) / o.rate - Date.now();
      if (wait > 0) await sleep(wait);
      const leaky = Math.floor((i + 1) * o.leakShare) > Math.floor(i * o.leakShare);
      const leak = leaky ? supply.take() : undefined;
      if (leaky && !leak) leaksShort++;
      if (leak) {
        const request = webhookRequest({ event: "push", payload: leak.payload, secret: rig.webhookSecret });
        planted.set(leak.authorizationId, leak.displayName);
        pending.set(leak.authorizationId, Date.now());
        void post(request);
      } else {
        void post(cleanSigned[cleanNext++ % cleanSigned.length]);
      }
      sent++;
    }
    const sendSeconds = elapsed();
    await Promise.all(inFlight);
    sending = false;
    await sampler;
    await supply.stop();
    if (fatal) throw fatal;
    const atSendEnd = await sample(elapsed(), web, worker, queues);
    samples.push(atSendEnd);
    if (atSendEnd.t + 0.5 >= nextLine) printLine(atSendEnd);
    console.log(`sending stopped at ${f1(sendSeconds)} s: ${sent} pushes, ${planted.size} with a PAT`);

    // Drain: every planted PAT revoked and mailed, every queue empty.
    const idle = async () => {
      for (const queue of queues!.all) {
        const c = await queue.getJobCounts("waiting", "prioritized", "active", "delayed");
        // The redelivery job scheduler always has its next run delayed.
        const delayed = queue === queues!.redelivery ? 0 : c.delayed;
        if (c.waiting + c.prioritized + c.active + delayed > 0) return false;
      }
      return true;
    };
    const drainStarted = Date.now();
    while (Date.now() - drainStarted < o.drainTimeout * 1000) {
      tallyMails();
      if (pending.size === 0 && mailsByName.size >= planted.size && (await idle())) break;
      await sleep(250);
    }
    await poller;
    // Late duplicates (a retried job finishing twice) would land now.
    await sleep(3000);
    countCompares();
    tallyMails();
    const drainSeconds = (Date.now() - drainStarted) / 1000;
    const final = await sample(elapsed(), web, worker, queues);

    // Totals from the sources of truth.
    const ids = [...planted.keys()];
    const revokedIds = new Set((await revokedPats(client, ids)).map((r) => r.authorizationId));
    const auditCounts = async (actionId: string) => {
      const { rows } = await client!.query<{ id: string; n: string }>(
        `SELECT data ->> 'authorizationId' AS id, count(*) AS n FROM audit_events
          WHERE action_id = $1 AND data ->> 'authorizationId' = ANY($2::text[]) GROUP BY 1`,
        [actionId, ids],
      );
      return new Map(rows.map((r) => [r.id, Number(r.n)]));
    };
    const revocationEvents = await auditCounts("Token.PatSystemRevokeEvent");
    const discoveryEvents = await auditCounts("Token.PatPublicDiscoveryEvent");
    const { rows: incidents } = await client.query<{ authorization_id: string; mailed: boolean }>(
      "SELECT authorization_id, mailed_at IS NOT NULL AS mailed FROM leak_incidents WHERE authorization_id = ANY($1::uuid[])",
      [ids],
    );
    const mails = mailsByName;
    const mailsReceived = [...mails.values()].reduce((a, n) => a + n, 0);
    let lost = 0;
    for (const [id, name] of planted) if (!revokedIds.has(id) || !mails.has(name)) lost++;
    const over = (counts: Map<string, number>) =>
      [...counts.values()].reduce((a, n) => a + Math.max(0, n - 1), 0);
    const duplicateMails = over(mails);
    const duplicateRevocations = over(revocationEvents);
    const duplicateDiscoveries = over(discoveryEvents);
    const missingAudit = ids.filter((id) => !revocationEvents.has(id) || !discoveryEvents.has(id)).length;
    const failedJobs = WATCHED_QUEUES.reduce((a, q) => a + (final.queues[q]?.failed ?? 0), 0);

    // Steady state: after the warm-up, until the sending stopped.
    const steady = samples.filter((s) => s.t >= o.warmup && s.t <= sendSeconds + 1);
    const steadyMinutes = steady.length > 1 ? (steady[steady.length - 1].t - steady[0].t) / 60 : Number.NaN;
    const memory = (["web", "worker", "harness"] as const).map((p) => {
      const first = steady[0]?.rss[p] ?? Number.NaN;
      const last = steady[steady.length - 1]?.rss[p] ?? Number.NaN;
      const fit = slope(steady.map((s) => ({ x: s.t / 60, y: s.rss[p] })));
      return {
        p,
        first,
        last,
        max: Math.max(...steady.map((s) => s.rss[p])),
        endpointSlope: (last - first) / steadyMinutes,
        fit,
        growth: fit * steadyMinutes,
      };
    });
    const waitingTrend = WATCHED_QUEUES.map((q) => ({
      q,
      fit: slope(steady.map((s) => ({ x: s.t / 60, y: s.queues[q]?.waiting ?? 0 }))),
      max: Math.max(...steady.map((s) => s.queues[q]?.waiting ?? 0)),
      atSendEnd: atSendEnd.queues[q]?.waiting ?? 0,
    }));
    const redisFit = slope(steady.map((s) => ({ x: s.t / 60, y: s.redisUsedMiB })));
    const lat = sortNum(allLatencies.map((l) => l.ms));
    const steadyLat = sortNum(allLatencies.filter((l) => l.sentT >= o.warmup).map((l) => l.ms));
    const compares = sortNum(compareLatencies);
    const redisKeys = await queues.connection.dbsize();
    let deduplicationKeys = 0;
    for await (const keys of (queues.connection as Redis).scanStream({
      match: `${QUEUE_PREFIX}:*:de:*`,
      count: 1000,
    }))
      deduplicationKeys += (keys as string[]).length;
    const acc = sortNum(acceptLatencies);
    const p99 = percentile(steadyLat, 99);

    console.log(`\ntotals (drained in ${f1(drainSeconds)} s)`);
    console.log(
      `  pushes: ${sent} sent, ${accepted} accepted (202), ${notAccepted.length} not${notAccepted.length ? ` (${[...new Set(notAccepted)].slice(0, 3).join("; ")})` : ""}; compares served to patrol ${comparesServed}`,
    );
    console.log(
      `  leaks: ${planted.size} planted (${leaksShort} leaky slots sent clean: the supply fell behind), ${revokedIds.size} revoked in the store, ${incidents.length} incidents (${incidents.filter((i) => i.mailed).length} marked mailed), ${mailsReceived} mails received by SMTP`,
    );
    console.log(
      `  audit: ${[...revocationEvents.values()].reduce((a, n) => a + n, 0)} revocation events, ${[...discoveryEvents.values()].reduce((a, n) => a + n, 0)} discovery events; ${missingAudit} leaks missing one`,
    );
    console.log(
      `  lost ${lost}; duplicates: mails ${duplicateMails}, revocations ${duplicateRevocations}, discovery events ${duplicateDiscoveries}; jobs failed for good ${failedJobs}`,
    );
    console.log(
      `memory over the steady state (${f1(o.warmup)}–${f1(sendSeconds)} s, ${steady.length} samples every ${sampleEvery} s)`,
    );
    for (const m of memory)
      console.log(
        `  ${m.p.padEnd(8)} RSS ${f0(m.first)} → ${f0(m.last)} MiB (max ${f0(m.max)}); slope ${f1(m.endpointSlope)} MB/min end to end, ${f1(m.fit)} MB/min fitted (${f1(m.growth)} MiB over the steady state)`,
      );
    console.log(
      `  redis used_memory ${f1(steady[0]?.redisUsedMiB ?? Number.NaN)} → ${f1(atSendEnd.redisUsedMiB)} MiB (fitted ${f1(redisFit)} MB/min); after the drain ${f1(final.redisUsedMiB)} MiB in ${redisKeys} keys, ${deduplicationKeys} of them delivery deduplication keys (kept 3 days)`,
    );
    console.log("queues (jobs waiting)");
    for (const q of waitingTrend)
      console.log(
        `  ${q.q.padEnd(8)} max ${q.max} in the steady state, ${q.atSendEnd} when the sending stopped; trend ${f1(q.fit)} jobs/min`,
      );
    console.log(
      `latency: push→revoked in the steady state p50 ${f0(percentile(steadyLat, 50))}, p95 ${f0(percentile(steadyLat, 95))}, p99 ${f0(p99)}, max ${f0(steadyLat[steadyLat.length - 1] ?? Number.NaN)} ms (${steadyLat.length} leaks); whole run p50 ${f0(percentile(lat, 50))}, p95 ${f0(percentile(lat, 95))}, p99 ${f0(percentile(lat, 99))}, max ${f0(lat[lat.length - 1] ?? Number.NaN)} ms (${lat.length} leaks)`,
    );
    console.log(
      `  webhook accept p50 ${f1(percentile(acc, 50))}, p99 ${f1(percentile(acc, 99))} ms; the fake GitHub's compare p50 ${f1(percentile(compares, 50))}, p99 ${f1(percentile(compares, 99))} ms`,
    );

    const checks: [string, boolean][] = [
      [`every webhook accepted (${notAccepted.length} not)`, notAccepted.length === 0],
      [`every push scanned (${comparesServed} compares for ${accepted} pushes)`, comparesServed >= accepted],
      [`leaks lost 0 (${lost})`, lost === 0],
      [
        `duplicates 0 (${duplicateMails + duplicateRevocations + duplicateDiscoveries})`,
        duplicateMails + duplicateRevocations + duplicateDiscoveries === 0,
      ],
      [`every leak audited (${missingAudit} missing)`, missingAudit === 0],
      [`no job failed for good (${failedJobs})`, failedJobs === 0],
      [
        `queues bounded: waiting when sending stopped ≤ ${o.maxWaiting} (${Math.max(...waitingTrend.map((q) => q.atSendEnd))})`,
        waitingTrend.every((q) => q.atSendEnd <= o.maxWaiting),
      ],
      ...memory
        .filter((m) => m.p !== "harness")
        .map((m): [string, boolean] => [
          `patrol ${m.p} RSS growth ≤ ${o.maxGrowth} MiB over the steady state (${f1(m.growth)})`,
          Number.isFinite(m.growth) && m.growth <= o.maxGrowth,
        ]),
      [
        `push→revoked p99 in the steady state ≤ ${o.p99Target} ms (${f0(p99)})`,
        steadyLat.length > 0 && p99 <= o.p99Target,
      ],
    ];
    if (supply.error) checks.push([`leak supply failed: ${supply.error.message}`, false]);
    console.log("checks");
    for (const [what, ok] of checks) console.log(`  ${ok ? "PASS" : "FAIL"}  ${what}`);
    const failed = checks.filter(([, ok]) => !ok).length;
    console.log(failed === 0 ? "soak: PASS" : `soak: FAIL (${failed} check${failed > 1 ? "s" : ""})`);
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    await client?.end().catch(() => {});
    await queues?.close().catch(() => {});
    await rig.close();
  }
}

main().catch((error) => {
  if (error === INTERRUPTED) {
    console.error(`soak: ${INTERRUPTED.message}`);
    process.exit(130);
  }
  console.error(error);
  process.exit(1);
});
