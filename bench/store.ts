/**
 * Issuing-store benchmark: `npm run bench:store`.
 *
 * Loads 1,000,000 PATs into PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; the
 * benchmark creates and finally drops its own database `patrol_bench`), then measures findByFingerprints for
 * batches of 1 and 1,000 fingerprints (p50/p99) and PAT authentications per second. Target: a 1,000-fingerprint
 * batch under 20 ms at p99.
 *
 * Flags: --pats N (default 1000000), --keep (leave patrol_bench in place).
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { loadConfig } from "../src/config.js";
import { IssuerStore, migrate, openDatabase } from "../src/issuer/index.js";
import { fingerprint, mintAzdo } from "../src/tokens/index.js";
import { onServer } from "./patrol-rig.js";

const BENCH_DATABASE = "patrol_bench";
const ORGANIZATIONS = 10;
const USERS = 1000;
const REAL_TOKENS = 2000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (n: number) => `${n.toFixed(2)} ms`;
const int = (n: number) => Math.round(n).toLocaleString("en-US");

async function timeRuns(
  runs: number,
  fn: () => Promise<unknown>,
): Promise<{ p50: number; p99: number; mean: number }> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    mean: samples.reduce((a, b) => a + b) / samples.length,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { pats: { type: "string" }, keep: { type: "boolean" } } });
  const patCount = Number(values.pats ?? 1_000_000);
  if (!Number.isInteger(patCount) || patCount < REAL_TOKENS)
    throw new Error(`--pats must be an integer >= ${REAL_TOKENS}`);
  const serverUrl = loadConfig().databaseUrl ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const benchUrl = new URL(serverUrl);
  benchUrl.pathname = `/${BENCH_DATABASE}`;

  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
  await onServer(serverUrl, `CREATE DATABASE ${BENCH_DATABASE}`);
  const db = await openDatabase({ databaseUrl: benchUrl.toString(), maxConnections: 8 });
  try {
    await migrate(db);
    const { rows: version } = await db.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    console.log(`patrol store benchmark: PostgreSQL ${version[0].v}, database ${BENCH_DATABASE}`);

    const store = new IssuerStore({ db, logger: pino({ level: "silent" }) });
    const tenant = await store.createTenant({ name: "bench" });
    await db.query(
      `INSERT INTO organizations (tenant_id, name) SELECT $1, 'bench-org-' || i FROM generate_series(1, $2::int) i`,
      [tenant.id, ORGANIZATIONS],
    );
    await db.query(
      `INSERT INTO users (tenant_id, email, display_name)
       SELECT $1, 'user' || i || '@bench.example', 'Bench User ' || i FROM generate_series(1, $2::int) i`,
      [tenant.id, USERS],
    );

    // Bulk load in one statement per chunk: synthetic fingerprints are SHA-256 of "bench-token-<i>".
    const loadStart = performance.now();
    const chunk = 250_000;
    for (let from = 1; from <= patCount - REAL_TOKENS; from += chunk) {
      const to = Math.min(patCount - REAL_TOKENS, from + chunk - 1);
      await db.query(
        `WITH o AS (SELECT array_agg(id ORDER BY name) AS ids FROM organizations WHERE tenant_id = $1),
              u AS (SELECT array_agg(id ORDER BY email) AS ids FROM users WHERE tenant_id = $1)
         INSERT INTO pats (tenant_id, user_id, organization_id, all_orgs, display_name, scope, fingerprint, format,
                           valid_from, valid_to)
         SELECT $1, u.ids[1 + i % $4::int], o.ids[1 + i % $5::int], i % 10 = 0, 'bench pat ' || i,
                CASE WHEN i % 3 = 0 THEN 'vso.packaging' ELSE 'vso.code vso.build' END,
                encode(sha256(convert_to('bench-token-' || i, 'UTF8')), 'hex'), 'azdo-pat',
                now(), now() + interval '300 days'
         FROM generate_series($2::int, $3::int) i, o, u`,
        [tenant.id, from, to, USERS, ORGANIZATIONS],
      );
    }
    // Real, well-formed tokens for the authentication benchmark (their fingerprints only go to the database).
    const tokens = Array.from({ length: REAL_TOKENS }, () => mintAzdo());
    await db.query(
      `WITH o AS (SELECT array_agg(id ORDER BY name) AS ids FROM organizations WHERE tenant_id = $1),
            u AS (SELECT array_agg(id ORDER BY email) AS ids FROM users WHERE tenant_id = $1)
       INSERT INTO pats (tenant_id, user_id, organization_id, display_name, scope, fingerprint, format, valid_from, valid_to)
       SELECT $1, u.ids[1 + n % $3::int], o.ids[1], 'bench real ' || n, 'vso.code', f, 'azdo-pat', now(), now() + interval '300 days'
       FROM unnest($2::text[]) WITH ORDINALITY AS t(f, n), o, u`,
      [tenant.id, tokens.map((t) => fingerprint(t)), USERS],
    );
    await db.exec("ANALYZE");
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const { rows: count } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pats");
    console.log(`PATs loaded: ${int(count[0].n)} in ${loadSeconds.toFixed(1)} s`);

    const synthetic = patCount - REAL_TOKENS;
    const randomFingerprint = () => fingerprint(`bench-token-${1 + Math.floor(Math.random() * synthetic)}`);
    /** `n` distinct fingerprints of stored PATs. */
    const randomBatch = (n: number) => {
      const batch = new Set<string>();
      while (batch.size < n) batch.add(randomFingerprint());
      return [...batch];
    };
    const orgName = "bench-org-1";

    // Warm up caches and the connection pool.
    for (let i = 0; i < 50; i++) await store.findByFingerprints(randomBatch(1000));

    // Inputs are made before the clock starts: only the lookup is timed.
    const singles = Array.from({ length: 5000 }, randomFingerprint);
    let run = 0;
    const single = await timeRuns(singles.length, async () => {
      const found = await store.findByFingerprints([singles[run++]]);
      if (found.length !== 1) throw new Error("benchmark fingerprint not found");
    });
    console.log(
      `findByFingerprints, batch of 1:     p50 ${ms(single.p50)}  p99 ${ms(single.p99)}  (5,000 runs)`,
    );
    const batches = Array.from({ length: 300 }, () => randomBatch(1000));
    run = 0;
    const batch = await timeRuns(batches.length, async () => {
      const found = await store.findByFingerprints(batches[run++]);
      if (found.length !== 1000) throw new Error("benchmark fingerprints not found");
    });
    const verdict = batch.p99 < 20 ? "met" : "MISSED";
    console.log(
      `findByFingerprints, batch of 1,000: p50 ${ms(batch.p50)}  p99 ${ms(batch.p99)}  (300 runs; target p99 < 20 ms: ${verdict})`,
    );

    // Authentication: the whole check (format and checksum, lookup, status, owner, organization, policy).
    for (let i = 0; i < 200; i++)
      await store.authenticatePat(tokens[i % REAL_TOKENS], { organization: orgName });
    const sequential = await timeRuns(5000, async () => {
      const result = await store.authenticatePat(tokens[run++ % REAL_TOKENS], { organization: orgName });
      if (!result.ok) throw new Error(`authentication failed: ${result.reason}`);
    });
    const concurrency = 8;
    const seconds = 5;
    let done = 0;
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const result = await store.authenticatePat(tokens[Math.floor(Math.random() * REAL_TOKENS)], {
            organization: orgName,
          });
          if (!result.ok) throw new Error(`authentication failed: ${result.reason}`);
          done++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    console.log(
      `PAT authentications: ${int(done / elapsed)}/s with ${concurrency} concurrent callers over ${elapsed.toFixed(1)} s; ` +
        `one at a time: p50 ${ms(sequential.p50)}  p99 ${ms(sequential.p99)} (${int(1000 / sequential.mean)}/s)`,
    );
  } finally {
    await db.close();
    if (!values.keep) await onServer(serverUrl, `DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
