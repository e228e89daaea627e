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
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { postWebhook, webhookRequest } from "../test/support/webhooks.js";
import {
  createBenchRepos,
  createBenchTenant,
  issueBenchPat,
  ms,
  type PreparedPush,
  percentile,
  preparePushes,
  revokedPats,
  rssMiB,
  sortNum,
  startRig,
} from "./patrol-rig.js";

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

  const rig = await startRig("pipeline");
  const { gh, smtp, webhookSecret: SECRET } = rig;
  try {
    console.log(`patrol pipeline benchmark — node ${process.version}, ${new Date().toISOString()}`);
    // 1. Ingest, against patrol web alone.
    const web = await rig.start("web");
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
    const ingestRss = rssMiB(web.pid);
    await web.stop();

    // 2. Push → revoked, against patrol start.
    const start = await rig.start("start");
    await createBenchTenant(rig, start.url);
    const repos = await createBenchRepos(rig, "repo", 10);
    const prepStarted = performance.now();
    // Each repository's pushes in one batch; push i goes to repository i % 10 and carries a PAT when i % 10 is 5.
    const perRepo = await Promise.all(
      repos.map(async (repo, r) => {
        const changes: Record<string, string>[] = [];
        const authorizationIds: (string | null)[] = [];
        for (let i = r; i < pushes; i += repos.length) {
          let content = `change ${i}\n`;
          let authorizationId: string | null = null;
          if (i % 10 === 5) {
            const pat = await issueBenchPat(rig, start.url, `leak ${i}`);
            content += `AZURE_DEVOPS_EXT_PAT=${pat.token}\n`;
            authorizationId = pat.authorizationId;
          }
          changes.push({ [`src/f${i}.txt`]: content });
          authorizationIds.push(authorizationId);
        }
        const prepared = await preparePushes(rig, repo, changes);
        return prepared.map((push, k) => ({ ...push, authorizationId: authorizationIds[k] }));
      }),
    );
    const prepared: (PreparedPush & { authorizationId: string | null })[] = [];
    for (let i = 0; i < pushes; i++) prepared.push(perRepo[i % repos.length][Math.floor(i / repos.length)]);
    const prepSeconds = (performance.now() - prepStarted) / 1000;
    const rssBefore = rssMiB(start.pid);
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
    const client = new pg.Client({ connectionString: rig.databaseUrl });
    await client.connect();
    const ids = [...sentAt.keys()];
    let revoked: { authorizationId: string; revokedAt: Date }[] = [];
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      revoked = await revokedPats(client, ids);
      if (revoked.length === ids.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await client.end();
    const latencies = sortNum(revoked.map((r) => r.revokedAt.getTime() - sentAt.get(r.authorizationId)!));
    await smtp.waitFor(ids.length, 60_000).catch(() => {});
    const rssAfter = rssMiB(start.pid);
    await start.stop();

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
    await rig.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
