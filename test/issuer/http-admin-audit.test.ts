import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIssuerServer } from "../../src/issuer/index.js";
import {
  ADMIN_KEY,
  openTestIssuer,
  startOidcProvider,
  type TestIssuer,
  type TestOidcProvider,
  uniqueName,
} from "../support/issuer.js";

const V = "api-version=7.1-preview.1";

let issuer: TestIssuer;
let oidc: TestOidcProvider;
let app: FastifyInstance;

beforeAll(async () => {
  issuer = await openTestIssuer();
  oidc = await startOidcProvider();
  app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
});
afterAll(async () => {
  await app.close();
  await oidc.close();
  await issuer.close();
});

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

function call(
  method: Method,
  url: string,
  body?: unknown,
  auth: Record<string, string> = { "x-patrol-admin-key": ADMIN_KEY },
) {
  return app.inject({
    method,
    url,
    headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function ok(method: Method, url: string, body?: unknown, auth?: Record<string, string>) {
  const response = await call(method, url, body, auth);
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
  return response.body === "" ? null : response.json();
}

/** Sets up a tenant entirely through the admin API. */
async function setUpTenant(adminEmail = "root@example.com") {
  const name = uniqueName("tenant");
  const tenant = await ok("POST", "/_apis/patrol/tenants", {
    name,
    oidc: { issuer: oidc.issuer, audience: oidc.audience, jwksUrl: oidc.jwksUrl },
  });
  const org = await ok("POST", `/_apis/patrol/tenants/${name}/organizations`, { name: uniqueName("org") });
  const otherOrg = await ok("POST", `/_apis/patrol/tenants/${name}/organizations`, {
    name: uniqueName("org"),
  });
  await ok("POST", `/_apis/patrol/tenants/${name}/users`, {
    email: adminEmail,
    displayName: "Root",
    role: "admin",
  });
  const alice = await ok("POST", `/_apis/patrol/tenants/${name}/users`, {
    email: "alice@example.com",
    displayName: "Alice",
    groups: ["Builders"],
  });
  return { name, tenant, org, otherOrg, alice };
}

describe("admin API", () => {
  it("creates tenants, organizations and users, and shows them", async () => {
    const { name, tenant, org, alice } = await setUpTenant();
    expect(tenant).toMatchObject({
      name,
      policies: {
        autoRevokeLeakedPats: true,
        restrictGlobalPats: false,
        restrictFullScopePats: false,
        maxPatLifespanDays: null,
      },
      oidc: { issuer: oidc.issuer, audience: oidc.audience, jwksUrl: oidc.jwksUrl },
    });
    expect(org.tenantId).toBe(tenant.id);
    expect(alice).toMatchObject({
      email: "alice@example.com",
      role: "member",
      status: "active",
      groups: ["builders"],
    });
    expect(await ok("GET", `/_apis/patrol/tenants/${name}`)).toEqual(tenant);
    expect(await ok("GET", `/_apis/patrol/tenants/${name}/users/alice@example.com`)).toMatchObject({
      id: alice.id,
    });
  });

  it("sets tenant and organization policies and allowlists", async () => {
    const { name, org } = await setUpTenant();
    const policies = await ok("PATCH", `/_apis/patrol/tenants/${name}/policies`, {
      restrictGlobalPats: true,
      maxPatLifespanDays: 30,
    });
    expect(policies).toEqual({
      autoRevokeLeakedPats: true,
      restrictGlobalPats: true,
      restrictFullScopePats: false,
      maxPatLifespanDays: 30,
    });
    expect(await ok("GET", `/_apis/patrol/tenants/${name}/policies`)).toEqual(policies);
    const allowlist = await ok("PUT", `/_apis/patrol/tenants/${name}/policies/restrictGlobalPats/allowlist`, {
      users: ["Alice@Example.com"],
      groups: ["builders"],
    });
    expect(allowlist).toEqual({ users: ["alice@example.com"], groups: ["builders"] });
    expect(await ok("GET", `/_apis/patrol/tenants/${name}/policies/restrictGlobalPats/allowlist`)).toEqual(
      allowlist,
    );

    const orgPolicies = await ok("PATCH", `/_apis/patrol/organizations/${org.name}/policies`, {
      restrictPatCreation: true,
      allowPackagingPats: true,
    });
    expect(orgPolicies).toEqual({ restrictPatCreation: true, allowPackagingPats: true });
    expect(
      await ok("PUT", `/_apis/patrol/organizations/${org.name}/policies/restrictPatCreation/allowlist`, {
        groups: ["builders"],
      }),
    ).toEqual({ users: [], groups: ["builders"] });
    expect(await ok("GET", `/_apis/patrol/organizations/${org.name}/policies`)).toEqual(orgPolicies);
  });

  it("disables a user (their PATs stop working) and revokes anyone's PAT", async () => {
    const { name, org } = await setUpTenant();
    const created = await ok("POST", `/${org.name}/_apis/tokens/pats?${V}&user=alice@example.com`, {
      displayName: "alice's",
      scope: "vso.code",
    });
    const token = created.patToken.token as string;
    expect((await issuer.store.authenticatePat(token)).ok).toBe(true);
    const disabled = await ok("PATCH", `/_apis/patrol/tenants/${name}/users/alice@example.com`, {
      status: "disabled",
    });
    expect(disabled.status).toBe("disabled");
    expect(await issuer.store.authenticatePat(token)).toEqual({ ok: false, reason: "userDisabled" });
    await ok("PATCH", `/_apis/patrol/tenants/${name}/users/alice@example.com`, {
      status: "active",
      groups: ["ops"],
    });
    expect((await issuer.store.authenticatePat(token)).ok).toBe(true);

    const revoked = await ok("POST", `/_apis/patrol/pats/${created.patToken.authorizationId}/revoke`, {
      reason: "left the company",
    });
    expect(revoked.patToken.authorizationId).toBe(created.patToken.authorizationId);
    expect(await issuer.store.authenticatePat(token)).toEqual({ ok: false, reason: "revoked" });
  });

  it("lets a tenant administrator signed in with OIDC manage their own tenant only", async () => {
    const mine = await setUpTenant();
    const theirs = await setUpTenant("other-root@example.com");
    const rootJwt = {
      authorization: `Bearer ${await oidc.sign({ sub: `root-${mine.name}`, email: "root@example.com" })}`,
    };
    expect(
      await ok(
        "PATCH",
        `/_apis/patrol/tenants/${mine.name}/policies`,
        { restrictFullScopePats: true },
        rootJwt,
      ),
    ).toMatchObject({
      restrictFullScopePats: true,
    });
    // The same identity is nobody in a tenant where it is not a user.
    expect(
      (await call("GET", `/_apis/patrol/tenants/${theirs.name}/policies`, undefined, rootJwt)).statusCode,
    ).toBe(403);
    expect(
      (
        await call(
          "PATCH",
          `/_apis/patrol/organizations/${theirs.org.name}/policies`,
          { restrictPatCreation: true },
          rootJwt,
        )
      ).statusCode,
    ).toBe(403);
    // Creating tenants needs the admin key.
    expect(
      (await call("POST", "/_apis/patrol/tenants", { name: uniqueName("tenant") }, rootJwt)).statusCode,
    ).toBe(401);
    // Members are not administrators.
    const aliceJwt = {
      authorization: `Bearer ${await oidc.sign({ sub: `alice-${mine.name}`, email: "alice@example.com" })}`,
    };
    expect(
      (await call("GET", `/_apis/patrol/tenants/${mine.name}/policies`, undefined, aliceJwt)).statusCode,
    ).toBe(403);
    expect(
      (await call("GET", `/${mine.org.name}/_apis/audit/auditlog?${V}`, undefined, aliceJwt)).statusCode,
    ).toBe(403);
  });

  it("answers bad admin input with a clear 4xx and changes nothing", async () => {
    const { name, org } = await setUpTenant();
    const before = await issuer.store.db.query<{ n: number }>(
      "SELECT (SELECT count(*) FROM tenants) + (SELECT count(*) FROM organizations) + (SELECT count(*) FROM users) + (SELECT count(*) FROM audit_events) + (SELECT count(*) FROM policy_allowlist_entries) AS n",
    );
    const cases: [Method, string, unknown, number][] = [
      ["POST", "/_apis/patrol/tenants", { name: name }, 409],
      ["POST", "/_apis/patrol/tenants", { name: "bad name!" }, 400],
      ["POST", "/_apis/patrol/tenants", { name: "x".repeat(60) }, 400],
      ["POST", "/_apis/patrol/tenants", { name: "ok-name", extra: 1 }, 400],
      ["POST", "/_apis/patrol/tenants", { name: "ok-name", oidc: { jwksUrl: "ftp://x" } }, 400],
      ["POST", `/_apis/patrol/tenants/${name}/organizations`, { name: org.name }, 409],
      ["POST", "/_apis/patrol/tenants/no-such-tenant/organizations", { name: "fine" }, 404],
      ["POST", `/_apis/patrol/tenants/${name}/users`, { email: "not-an-email", displayName: "X" }, 400],
      [
        "POST",
        `/_apis/patrol/tenants/${name}/users`,
        { email: "alice@example.com", displayName: "Again" },
        409,
      ],
      ["POST", `/_apis/patrol/tenants/${name}/users`, { email: "new@example.com", displayName: "" }, 400],
      [
        "POST",
        `/_apis/patrol/tenants/${name}/users`,
        { email: "new@example.com", displayName: "N", role: "owner" },
        400,
      ],
      ["PATCH", `/_apis/patrol/tenants/${name}/policies`, { maxPatLifespanDays: 0 }, 400],
      ["PATCH", `/_apis/patrol/tenants/${name}/policies`, { restrictGlobalPats: "true" }, 400],
      ["PATCH", `/_apis/patrol/tenants/${name}/policies`, { restrictGlobalPAT: true }, 400],
      ["PUT", `/_apis/patrol/tenants/${name}/policies/noSuchPolicy/allowlist`, { users: [] }, 400],
      [
        "PUT",
        `/_apis/patrol/tenants/${name}/policies/restrictGlobalPats/allowlist`,
        { users: ["ghost@example.com"] },
        400,
      ],
      ["PATCH", `/_apis/patrol/organizations/${org.name}/policies`, { restrictPatCreation: 1 }, 400],
      ["PATCH", "/_apis/patrol/organizations/no-such-org/policies", { restrictPatCreation: true }, 404],
      ["PATCH", `/_apis/patrol/tenants/${name}/users/alice@example.com`, { status: "gone" }, 400],
      ["PATCH", `/_apis/patrol/tenants/${name}/users/alice@example.com`, {}, 400],
      ["PATCH", `/_apis/patrol/tenants/${name}/users/nobody@example.com`, { status: "disabled" }, 404],
      ["POST", "/_apis/patrol/pats/not-a-guid/revoke", {}, 400],
      ["POST", "/_apis/patrol/pats/0b7c5a1e-2222-4d3b-8f44-999999999999/revoke", {}, 404],
    ];
    for (const [method, url, body, status] of cases) {
      const response = await call(method, url, body);
      expect(response.statusCode, `${method} ${url} ${JSON.stringify(body)}: ${response.body}`).toBe(status);
      expect(response.json().message.length).toBeGreaterThan(5);
    }
    const after = await issuer.store.db.query<{ n: number }>(
      "SELECT (SELECT count(*) FROM tenants) + (SELECT count(*) FROM organizations) + (SELECT count(*) FROM users) + (SELECT count(*) FROM audit_events) + (SELECT count(*) FROM policy_allowlist_entries) AS n",
    );
    expect(Number(after.rows[0].n)).toBe(Number(before.rows[0].n));
    expect((await call("GET", `/_apis/patrol/tenants/${name}`, undefined, {})).statusCode).toBe(401);
  });
});

describe("history scans API", () => {
  it("takes the admin key only, checks the repository name, and answers 503 without a GitHub App", async () => {
    const mine = await setUpTenant();
    const tenantAdmin = {
      authorization: `Bearer ${await oidc.sign({ sub: `root-${mine.name}`, email: "root@example.com" })}`,
    };
    const route = "/_apis/patrol/history-scans";
    expect((await call("POST", route, { repository: "octo/app" }, {})).statusCode).toBe(401);
    // A scan reaches across tenants: a tenant's administrator (signed in with the tenant's OIDC) may not start one.
    expect((await call("POST", route, { repository: "octo/app" }, tenantAdmin)).statusCode).toBe(401);
    const bad = await call("POST", route, { repository: "octo/app/extra" });
    expect([bad.statusCode, bad.json().message]).toEqual([400, expect.stringMatching(/OWNER\/NAME/)]);
    expect((await call("POST", route, { repository: "octo/app", branch: "main" })).statusCode).toBe(400);
    // This server was built without a GitHub App (no starter).
    const unconfigured = await call("POST", route, { repository: "octo/app" });
    expect([unconfigured.statusCode, unconfigured.json().message]).toEqual([
      503,
      expect.stringMatching(/no GitHub App is configured/),
    ]);
  });
});

describe("audit log API", () => {
  it("pages decoratedAuditLogEntries newest first with continuationToken and hasMore", async () => {
    const { org, tenant } = await setUpTenant();
    for (let i = 0; i < 3; i++) {
      await ok("POST", `/${org.name}/_apis/tokens/pats?${V}&user=alice@example.com`, {
        displayName: `audit ${i}`,
        scope: "vso.code",
      });
    }
    // Directory changes (tenant-wide events) are in the log too; this pages the PAT events.
    const first = await ok(
      "GET",
      `/${org.name}/_apis/audit/auditlog?${V}&batchSize=2&actionId=Token.PatCreateEvent`,
    );
    expect(first.hasMore).toBe(true);
    expect(first.decoratedAuditLogEntries).toHaveLength(2);
    expect(first.decoratedAuditLogEntries[0]).toMatchObject({
      actionId: "Token.PatCreateEvent",
      area: "Token",
      category: "create",
      categoryDisplayName: "Create",
      scopeType: "organization",
      scopeId: org.id,
      scopeDisplayName: `${org.name} (Organization)`,
      authenticationMechanism: "AdminApiKey",
      data: { displayName: "audit 2", ownerName: "Alice", ownerEmail: "alice@example.com" },
    });
    expect(typeof first.decoratedAuditLogEntries[0].id).toBe("string");
    expect(typeof first.decoratedAuditLogEntries[0].timestamp).toBe("string");
    const second = await ok(
      "GET",
      `/${org.name}/_apis/audit/auditlog?${V}&batchSize=2&actionId=Token.PatCreateEvent&continuationToken=${encodeURIComponent(first.continuationToken)}`,
    );
    expect(
      second.decoratedAuditLogEntries.map((e: { data: { displayName: string } }) => e.data.displayName),
    ).toEqual(["audit 0"]);
    // As in Azure DevOps' example, the last page still names where it ended; hasMore says there is no more.
    expect(second.hasMore).toBe(false);
    expect(typeof second.continuationToken).toBe("string");
    const past = await ok(
      "GET",
      `/${org.name}/_apis/audit/auditlog?${V}&actionId=Token.PatCreateEvent&continuationToken=${encodeURIComponent(second.continuationToken)}`,
    );
    expect(past).toEqual({
      decoratedAuditLogEntries: [],
      continuationToken: second.continuationToken,
      hasMore: false,
    });

    const none = await ok(
      "GET",
      `/${org.name}/_apis/audit/auditlog?startTime=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(none.decoratedAuditLogEntries).toEqual([]);
    for (const bad of [
      "startTime=yesterday",
      "batchSize=0",
      "batchSize=abc",
      "continuationToken=zzz",
      "actionId=Token.Nope",
    ]) {
      expect((await call("GET", `/${org.name}/_apis/audit/auditlog?${bad}`)).statusCode, bad).toBe(400);
    }
    // The admin key learns that the organization does not exist; nobody else does (see the probing test).
    expect((await call("GET", `/no-such-org/_apis/audit/auditlog`)).statusCode).toBe(404);
    expect(tenant.id).toBeTruthy();
  });

  it("exports JSON lines (organization and tenant) and verifies the chain", async () => {
    const { name, org, otherOrg } = await setUpTenant();
    await ok("POST", `/${org.name}/_apis/tokens/pats?${V}&user=alice@example.com`, {
      displayName: "in org",
      scope: "vso.code",
    });
    await ok("POST", `/${otherOrg.name}/_apis/tokens/pats?${V}&user=alice@example.com`, {
      displayName: "elsewhere",
      scope: "vso.code",
    });
    const orgExport = await call("GET", `/${org.name}/_apis/audit/downloadlog?format=jsonl`);
    expect(orgExport.statusCode).toBe(200);
    expect(orgExport.headers["content-type"]).toMatch(/application\/x-ndjson/);
    const orgLines = orgExport.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(orgLines.filter((e) => e.area === "Token").map((e) => e.data.displayName)).toEqual(["in org"]);

    const tenantExport = await call("GET", `/_apis/patrol/tenants/${name}/audit/export`);
    const tenantLines = tenantExport.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const n = tenantLines.length;
    expect(tenantLines.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(tenantLines.slice(-2).map((e) => e.data.displayName)).toEqual(["in org", "elsewhere"]);
    expect(tenantLines[n - 1].prevHash).toBe(tenantLines[n - 2].hash);
    expect((await call("GET", `/${org.name}/_apis/audit/downloadlog?format=xml`)).statusCode).toBe(400);
    expect((await call("GET", `/${org.name}/_apis/audit/downloadlog`)).statusCode).toBe(400);

    expect(await ok("GET", `/_apis/patrol/tenants/${name}/audit/verify`)).toMatchObject({
      ok: true,
      checked: n,
      lastSeq: n,
    });
  });
});

describe("OpenAPI", () => {
  it("documents the routes at /_apis/openapi.json", async () => {
    const response = await call("GET", "/_apis/openapi.json", undefined, {});
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/{organization}/_apis/tokens/pats",
        "/_apis/connectionData",
        "/{organization}/_apis/audit/auditlog",
        "/_apis/patrol/tenants",
      ]),
    );
    const create = doc.paths["/{organization}/_apis/tokens/pats"].post;
    expect(create.requestBody.content["application/json"].schema.properties).toHaveProperty("displayName");
    expect(create.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(["organization", "api-version"]),
    );
    expect(doc.components.securitySchemes).toHaveProperty("oidc");
  });
});
