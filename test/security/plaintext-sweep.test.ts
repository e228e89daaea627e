/**
 * The plaintext sweep: tokens go in through every path — the REST API issuing and authenticating PATs, a push
 * webhook (files, a commit message, and a malformed push whose refusal is logged), the secret-scanning partner
 * endpoint and a history scan of a repository made public — then every place patrol writes is searched for
 * each token in plain, base64, Basic-credential and URL-encoded form: every Redis key and value (by type, and
 * DUMP), the database (pg_dump of the scratch database on PostgreSQL; every row of every table either way), the
 * logs at debug level through the production logger, every mail as received by SMTP, the metrics page, the
 * dashboard's JSON API as admin, the incidents API and the audit export. Expected hits: 0. Each search is
 * shown to see what it searches (the fingerprints, the names) so a blind search cannot pass.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logging.js";
import { type RunningService, startService } from "../../src/service/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { createScratchDatabase } from "../support/database.js";
import {
  createSecretScanningKey,
  type FakeGitHub,
  postPartnerAlert,
  startFakeGitHub,
} from "../support/fake-github/index.js";
import {
  createTenant,
  eventually,
  issuePat,
  patStatus,
  queuesIdle,
  type TestPatrol,
} from "../support/patrol.js";
import { testRedisUrl, uniqueQueuePrefix } from "../support/redis.js";
import { type SmtpCapture, startSmtpCapture } from "../support/smtp.js";
import { postWebhook } from "../support/webhooks.js";

const SECRET = randomBytes(20).toString("hex");
const run = promisify(execFile);

let gh: FakeGitHub;
let smtp: SmtpCapture;
let patrol: TestPatrol & { service: RunningService };
let databaseUrl: string | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let cloneDir: string;
let prefix: string;
const logs: string[] = [];
/** Every token that went in, ours or not. */
const planted: string[] = [];
/** User names the tokens were sent with in Basic credentials. */
const USERS = ["", "any", "x", "user", "me"];

beforeAll(async () => {
  gh = await startFakeGitHub();
  smtp = await startSmtpCapture();
  cloneDir = mkdtempSync(path.join(tmpdir(), "patrol-sweep-clones-"));
  const dataDir = mkdtempSync(path.join(tmpdir(), "patrol-sweep-"));
  const serverUrl = loadConfig().databaseUrl;
  const database = serverUrl ? await createScratchDatabase(serverUrl) : null;
  databaseUrl = database?.url;
  dropDatabase = database?.drop;
  const adminKey = randomBytes(24).toString("hex");
  prefix = uniqueQueuePrefix("sweep");
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "debug",
    PORT: "0",
    PATROL_DATA_DIR: dataDir,
    PATROL_ADMIN_KEY: adminKey,
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: prefix,
    SMTP_URL: smtp.url,
    HISTORY_TEMP_DIR: cloneDir,
    // The sweep fails PAT authentication on purpose dozens of times from one address.
    AUTH_FAILURE_LIMIT: "1000",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...gh.env(SECRET),
  });
  // The production logger (its redaction included), at debug level, into memory.
  const logger = createLogger(config, { write: (line: string) => logs.push(line) } as never);
  const service = await startService("start", config, logger);
  const admin = (method: string, route: string, body?: unknown) =>
    fetch(`${service.url}${route}`, {
      method,
      headers: {
        "x-patrol-admin-key": adminKey,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  patrol = {
    service,
    url: service.url,
    adminKey,
    dataDir,
    admin,
    stop: async () => {
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}, 120_000);

afterAll(async () => {
  await patrol?.stop();
  await dropDatabase?.();
  await smtp?.close();
  await gh?.close();
  if (cloneDir) rmSync(cloneDir, { recursive: true, force: true });
});

/** The ways a token could be written down. */
function forms(token: string): string[] {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const all = [token, b64(token), ...USERS.map((u) => b64(`${u}:${token}`)), encodeURIComponent(b64(token))];
  // A key's 52 random characters alone would be a leak too.
  if (token.length >= 84) all.push(token.slice(0, 52));
  return [...new Set(all)];
}

function hits(where: string, text: string): string[] {
  return planted.flatMap((token) =>
    forms(token)
      .filter((form) => text.includes(form))
      .map((form) => `${where}: ${token.slice(0, 4)}… as ${form === token ? "plain" : form}`),
  );
}

async function redisText(): Promise<{ text: string; keys: number }> {
  const redis = new Redis(testRedisUrl());
  const parts: string[] = [];
  let keys = 0;
  try {
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "COUNT", 500);
      cursor = next;
      for (const key of batch) {
        keys++;
        parts.push(key);
        const type = await redis.type(key);
        if (type === "string") parts.push((await redis.get(key)) ?? "");
        else if (type === "hash") parts.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === "list") parts.push(...(await redis.lrange(key, 0, -1)));
        else if (type === "set") parts.push(...(await redis.smembers(key)));
        else if (type === "zset") parts.push(...(await redis.zrange(key, "0", "-1", "WITHSCORES")));
        else if (type === "stream") parts.push(JSON.stringify(await redis.xrange(key, "-", "+")));
        const dump = await redis.dumpBuffer(key);
        if (dump) parts.push(dump.toString("latin1"));
      }
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return { text: parts.join("\n"), keys };
}

async function databaseText(): Promise<string> {
  const db = patrol.service.store.db;
  const { rows: tables } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
    parts.push(`-- ${table_name}`, ...rows.map((r) => r.row));
  }
  if (databaseUrl) {
    // pg_dump as well: it also writes what a row's text form might not (sequences, large objects, comments).
    const { stdout } = await run("pg_dump", ["--no-owner", databaseUrl], { maxBuffer: 256 * 1024 * 1024 });
    parts.push(stdout);
  }
  return parts.join("\n");
}

function filesText(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && statSync(full).size < 64 * 1024 * 1024)
        parts.push(readFileSync(full).toString("latin1"));
    }
  };
  walk(dir);
  return parts.join("\n");
}

async function dashboardText(): Promise<string> {
  const auth = { authorization: `Bearer ${patrol.adminKey}` };
  const get = async (route: string) => {
    const response = await fetch(`${patrol.url}/admin/queues/api${route}`, { headers: auth });
    expect(response.status, route).toBe(200);
    return response.text();
  };
  const parts = [await get("/queues")];
  for (const queue of patrol.service.queues.all) {
    for (const status of ["latest", "active", "waiting", "completed", "failed", "delayed", "paused"]) {
      parts.push(await get(`/queues?activeQueue=${encodeURIComponent(queue.name)}&status=${status}&page=1`));
    }
    const jobs = await queue.getJobs(["completed", "failed", "waiting", "delayed"], 0, 200);
    for (const job of jobs) {
      if (!job?.id) continue;
      parts.push(await get(`/queues/${encodeURIComponent(queue.name)}/${encodeURIComponent(job.id)}`));
      parts.push(await get(`/queues/${encodeURIComponent(queue.name)}/${encodeURIComponent(job.id)}/logs`));
    }
  }
  return parts.join("\n");
}

describe("the plaintext sweep", () => {
  it("finds no token, in any form, anywhere patrol writes, after tokens went in through every path", async () => {
    const webhookUrl = `${patrol.url}/api/github/webhooks`;
    const who = await createTenant(patrol, "sweep");
    const pats = await Promise.all(
      ["pushed", "in-a-message", "alerted", "in-history", "api-only"].map((n) => issuePat(patrol, who, n)),
    );
    const [pushed, inMessage, alerted, inHistory, apiOnly] = pats;
    const strangers = [mintAzdo(), mintLegacy(), mintAzdo()];
    planted.push(...pats.map((p) => p.token), ...strangers);

    // The REST API: authenticate with every token (and a broken one), the way clients do.
    for (const token of [...planted, `${apiOnly.token.slice(0, -1)}x`])
      for (const user of USERS) {
        const response = await fetch(`${patrol.url}/${who.organization}/_apis/connectionData`, {
          headers: { authorization: `Basic ${Buffer.from(`${user}:${token}`).toString("base64")}` },
        });
        await response.arrayBuffer();
      }
    // A PAT where a bearer token belongs, and in a query string.
    await fetch(
      `${patrol.url}/${who.organization}/_apis/tokens/pats?api-version=7.1-preview.1&key=${apiOnly.token}`,
      {
        headers: { authorization: `Bearer ${apiOnly.token}` },
      },
    );

    // A push: tokens in files (plain, Basic, base64) and in the commit message.
    const repo = await gh.createRepo("sweep-dev", "app");
    const base = await repo.commit({ message: "init", files: { "README.md": "# app\n" } });
    const head = await repo.commit({
      message: `add config (token ${inMessage.token})`,
      files: {
        ".npmrc": `//pkgs.example/_packaging/feed/npm/registry/:_password=${Buffer.from(pushed.token).toString("base64")}\n`,
        "deploy.sh": `curl -H "Authorization: Basic ${Buffer.from(`x:${pushed.token}`).toString("base64")}" https://dev.azure.com\nexport PAT=${strangers[0]}\n`,
        "notes.txt": `message token again ${inMessage.token}\n`,
      },
    });
    const pushPayload = await repo.pushPayload({ before: base, after: head });
    expect(JSON.stringify(pushPayload)).toContain(inMessage.token);
    const delivered = await gh.deliver({
      url: webhookUrl,
      event: "push",
      payload: pushPayload,
      secret: SECRET,
    });
    expect(delivered.statusCode).toBe(202);
    // A malformed push whose commit message holds a token: refused, and its refusal logged.
    const { installation: _gone, ...broken } = pushPayload;
    const refused = await postWebhook({ url: webhookUrl, event: "push", payload: broken, secret: SECRET });
    expect(refused.status).toBe(400);

    // The partner endpoint.
    const signer = createSecretScanningKey();
    gh.setSecretScanningKeys([signer.publicKey]);
    const alert = await postPartnerAlert(`${patrol.url}/api/github/secret-scanning`, signer, [
      {
        token: alerted.token,
        type: "azure_devops_pat",
        url: `https://github.com/sweep-dev/gist/blob/${head}/a.txt#L2`,
        source: "content",
      },
      {
        token: strangers[1],
        type: "azure_devops_pat",
        url: "https://github.com/sweep-dev/gist",
        source: "content",
      },
    ]);
    expect(alert.status).toBe(200);

    // A history scan: a private repository, a token added then removed, made public.
    const secret = await gh.createRepo("sweep-dev", "legacy", { private: true });
    await secret.commit({
      message: "init",
      files: { "config.yml": `pat: ${inHistory.token}\nother: ${strangers[2]}\n` },
    });
    await secret.commit({ message: "remove it", files: { "config.yml": "pat: (from the vault)\n" } });
    secret.setVisibility("public");
    const history = await gh.deliver({
      url: webhookUrl,
      event: "public",
      payload: secret.publicPayload(),
      secret: SECRET,
    });
    expect(history.statusCode).toBe(202);

    const t0 = Date.now();
    const step = (what: string) => process.env.SWEEP_TIMING && console.log(what, Date.now() - t0);
    for (const pat of [pushed, inMessage, alerted, inHistory])
      await eventually(
        `${pat.token.slice(0, 4)}… revoked`,
        async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
        60_000,
      );
    step("revoked");
    expect(await patStatus(patrol, who.organization, apiOnly.token)).toBe(200);
    await eventually(
      "four mails",
      async () => smtp.messages.filter((m) => m.to.includes(who.email)).length >= 4,
      60_000,
    );
    step("mailed");
    await eventually("the queues to drain", () => queuesIdle(patrol), 60_000);
    step("idle");

    // Now search. Each source must visibly hold what patrol did (fingerprints, names), so a blind search fails.
    const fps = [pushed, inMessage, alerted, inHistory].map((p) => fingerprint(p.token));
    const found: string[] = [];

    const redis = await redisText();
    expect(redis.keys).toBeGreaterThan(10);
    expect(redis.text).toContain(prefix);
    expect(redis.text).toContain(fps[0]);
    found.push(...hits("redis", redis.text));

    const db = await databaseText();
    for (const fp of fps) expect(db).toContain(fp);
    if (databaseUrl) expect(db).toContain("CREATE TABLE");
    found.push(...hits("database", db));
    found.push(...hits("data directory", filesText(patrol.dataDir)));

    const log = logs.join("");
    expect(log).toContain('"level":20');
    expect(log).toContain("webhook refused");
    found.push(...hits("logs", log));

    const mails = smtp.messages.map((m) => m.raw.toString("latin1")).join("\n");
    expect(smtp.messages.length).toBeGreaterThanOrEqual(4);
    expect(mails).toContain("sweep-dev/app");
    found.push(...hits("mail", mails));

    const metrics = await (await fetch(`${patrol.url}/metrics`)).text();
    expect(metrics).toContain("patrol_webhooks_total");
    found.push(...hits("metrics", metrics));

    const dashboard = await dashboardText();
    expect(dashboard).toContain(fps[0]);
    found.push(...hits("dashboard API", dashboard));

    const incidents = await (await patrol.admin("GET", "/_apis/patrol/incidents?tenant=sweep")).text();
    expect(incidents).toContain("sweep-dev/app");
    found.push(...hits("incidents API", incidents));

    const exported = await (await patrol.admin("GET", "/_apis/patrol/tenants/sweep/audit/export")).text();
    expect(exported).toContain("Token.PatPublicDiscoveryEvent");
    expect(exported).toContain("Token.PatSystemRevokeEvent");
    found.push(...hits("audit export", exported));
    const auditLog = await (
      await patrol.admin("GET", `/${who.organization}/_apis/audit/auditlog?api-version=7.1-preview.1`)
    ).text();
    found.push(...hits("audit log API", auditLog));

    expect(found).toEqual([]);
  }, 120_000);
});
