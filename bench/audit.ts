/**
 * Audit log benchmark: `npm run bench:audit`. Appends events to one tenant's keyed chain (one transaction per
 * event, as every change does) and verifies the whole chain with its checkpoints; prints events per second.
 * Uses DATABASE_URL when set (a scratch database is created and dropped), else an in-memory PGlite.
 *
 * Flags: --events N (default 5000).
 */
import { parseArgs } from "node:util";
import pg from "pg";
import pino from "pino";
import { loadConfig } from "../src/config.js";
import { appendAuditEvent } from "../src/issuer/audit.js";
import { IssuerStore, migrate, openDatabase, SYSTEM_ACTOR } from "../src/issuer/index.js";

const { values } = parseArgs({ options: { events: { type: "string", default: "5000" } } });
const events = Number(values.events);
const { databaseUrl } = loadConfig();
const SCRATCH = "patrol_bench_audit";
async function onServer(sql: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
let scratchUrl: string | undefined;
if (databaseUrl) {
  await onServer(`DROP DATABASE IF EXISTS ${SCRATCH} WITH (FORCE)`);
  await onServer(`CREATE DATABASE ${SCRATCH}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${SCRATCH}`;
  scratchUrl = url.toString();
}
const db = await openDatabase(scratchUrl ? { databaseUrl: scratchUrl } : { inMemory: true });
await migrate(db);
const store = new IssuerStore({ db, logger: pino({ level: "silent" }) });
const tenant = await store.createTenant({ name: `bench-${process.pid}-${Date.now()}` });

let start = process.hrtime.bigint();
for (let i = 0; i < events; i++) {
  await db.transaction((tx) =>
    appendAuditEvent(store.ctx, tx, {
      tenantId: tenant.id,
      organization: null,
      actor: SYSTEM_ACTOR,
      actionId: "Token.PatExpiredEvent",
      details: `Personal access token "bench ${i}" expired`,
      data: { displayName: `bench ${i}`, n: i },
    }),
  );
}
const appendSeconds = Number(process.hrtime.bigint() - start) / 1e9;
start = process.hrtime.bigint();
const report = await store.verifyAuditChain(tenant.id);
const verifySeconds = Number(process.hrtime.bigint() - start) / 1e9;
if (!report.ok) throw new Error(`chain broken: ${report.brokenAt.reason}`);
console.log(`audit benchmark on ${db.engine}: ${report.checked} events`);
console.log(`append (one transaction each): ${Math.round(events / appendSeconds)} events/s`);
console.log(`verify (HMAC chain): ${Math.round(report.checked / verifySeconds)} events/s`);
await db.close();
if (databaseUrl) await onServer(`DROP DATABASE IF EXISTS ${SCRATCH} WITH (FORCE)`);
