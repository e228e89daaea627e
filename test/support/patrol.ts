/**
 * A whole patrol for end-to-end tests, in this process: `startService` on a configuration of real parts — the
 * test run's Redis (own queue prefix), PGlite or a scratch PostgreSQL database, an in-process SMTP server, and
 * the fake GitHub — plus the calls a security team or user would make over HTTP.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { loadConfig } from "../../src/config.js";
import { type RunningService, type ServiceMode, startService } from "../../src/service/index.js";
import { createScratchDatabase } from "./database.js";
import { testRedisUrl, uniqueQueuePrefix } from "./redis.js";

export interface TestPatrol {
  service: RunningService;
  url: string;
  adminKey: string;
  dataDir: string;
  /** A call with the admin key. */
  admin(method: string, route: string, body?: unknown): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTestPatrol(
  env: Record<string, string | undefined>,
  mode: ServiceMode = "start",
): Promise<TestPatrol> {
  const adminKey = randomBytes(24).toString("hex");
  const dataDir = mkdtempSync(path.join(tmpdir(), "patrol-e2e-"));
  const serverUrl = loadConfig().databaseUrl;
  const database = serverUrl ? await createScratchDatabase(serverUrl) : null;
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    PORT: "0",
    PATROL_DATA_DIR: dataDir,
    PATROL_ADMIN_KEY: adminKey,
    REDIS_URL: testRedisUrl(),
    QUEUE_PREFIX: uniqueQueuePrefix("e2e"),
    // Off unless a suite turns it on: a background run would redeliver the failures other suites make on purpose.
    WEBHOOK_REDELIVERY_INTERVAL_SECONDS: "0",
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...env,
  });
  const logger = pino({ level: process.env.PATROL_TEST_LOG ?? "silent" });
  const service = await startService(mode, config, logger);
  const admin = (method: string, route: string, body?: unknown) =>
    fetch(`${service.url}${route}`, {
      method,
      headers: {
        "x-patrol-admin-key": adminKey,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return {
    service,
    url: service.url,
    adminKey,
    dataDir,
    admin,
    async stop() {
      await service.stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a tenant with one organization and one user; returns their names. */
export async function createTenant(
  patrol: TestPatrol,
  name: string,
  options: { autoRevoke?: boolean } = {},
): Promise<{ tenant: string; organization: string; email: string; displayName: string }> {
  const organization = `${name}-org`;
  const email = `owner@${name}.example`;
  const displayName = `Owner of ${name}`;
  const steps: [string, string, unknown][] = [
    ["POST", "/_apis/patrol/tenants", { name }],
    ["POST", `/_apis/patrol/tenants/${name}/organizations`, { name: organization }],
    ["POST", `/_apis/patrol/tenants/${name}/users`, { email, displayName }],
  ];
  if (options.autoRevoke === false)
    steps.push(["PATCH", `/_apis/patrol/tenants/${name}/policies`, { autoRevokeLeakedPats: false }]);
  for (const [method, route, body] of steps) {
    const response = await patrol.admin(method, route, body);
    if (response.status >= 300)
      throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  }
  return { tenant: name, organization, email, displayName };
}

/** Issues a PAT through the lifecycle API, as the owner's administrator would; returns the secret once. */
export async function issuePat(
  patrol: TestPatrol,
  who: { organization: string; email: string },
  displayName: string,
): Promise<{ token: string; authorizationId: string }> {
  const validTo = new Date(Date.now() + 7 * 86400_000).toISOString();
  const response = await patrol.admin(
    "POST",
    `/${who.organization}/_apis/tokens/pats?api-version=7.1-preview.1&user=${encodeURIComponent(who.email)}`,
    { displayName, scope: "vso.code", validTo, allOrgs: false },
  );
  const body = (await response.json()) as { patToken: { token: string; authorizationId: string } };
  if (response.status !== 200) throw new Error(`cannot issue a PAT: ${JSON.stringify(body)}`);
  return { token: body.patToken.token, authorizationId: body.patToken.authorizationId };
}

/** connectionData with the PAT: 200 while it works, 401 once revoked. */
export async function patStatus(patrol: TestPatrol, organization: string, token: string): Promise<number> {
  const response = await fetch(`${patrol.url}/${organization}/_apis/connectionData`, {
    headers: { authorization: `Basic ${Buffer.from(`any:${token}`).toString("base64")}` },
  });
  await response.arrayBuffer();
  return response.status;
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** An incident as the incidents API shows it (the fields the tests read). */
export interface IncidentView {
  id: string;
  state: string;
  redacted: string;
  authorizationId: string;
  mail: { status: string };
  locations: {
    repository: string;
    commit: string;
    path: string;
    line: number;
    permalink: string;
    source: string;
  }[];
}

/** The tenant's incidents through the API, newest first. */
export async function listIncidents(patrol: TestPatrol, tenant: string): Promise<IncidentView[]> {
  const response = await patrol.admin("GET", `/_apis/patrol/incidents?tenant=${tenant}`);
  if (response.status !== 200) throw new Error(`incidents: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { value: IncidentView[] }).value;
}

/** The tenant's audit events, newest first: action id and data. */
export async function auditActions(
  patrol: TestPatrol,
  tenant: string,
): Promise<{ actionId: string; data: Record<string, unknown> }[]> {
  const t = await patrol.service.store.findTenant(tenant);
  if (!t) throw new Error(`no tenant ${tenant}`);
  const page = await patrol.service.store.queryAuditLog({ tenantId: t.id, batchSize: 1000 });
  return page.entries.map((e) => ({ actionId: e.actionId, data: e.data as Record<string, unknown> }));
}

/** True when no queue has a job waiting, running or delayed (the redelivery scheduler's next run aside). */
export async function queuesIdle(patrol: TestPatrol): Promise<boolean> {
  for (const queue of patrol.service.queues.all) {
    const c = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    const delayed = queue === patrol.service.queues.redelivery ? 0 : c.delayed;
    if (c.waiting + c.active + delayed + c.prioritized > 0) return false;
  }
  return true;
}
