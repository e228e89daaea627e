/**
 * Nobody acts as somebody else: each attack from the security review, tried over HTTP against a real store and
 * a local identity provider, must now fail.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIssuerServer } from "../../src/issuer/index.js";
import {
  ADMIN_KEY,
  asUser,
  openTestIssuer,
  seedTenant,
  startOidcProvider,
  type TestIssuer,
  type TestOidcProvider,
  type TestTenant,
} from "../support/issuer.js";

const V = "api-version=7.1-preview.1";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let issuer: TestIssuer;
let oidc: TestOidcProvider;
let app: FastifyInstance;
let t: TestTenant;

beforeAll(async () => {
  issuer = await openTestIssuer();
  oidc = await startOidcProvider();
  t = await seedTenant(issuer.store, { issuer: oidc.issuer, audience: oidc.audience, jwksUrl: oidc.jwksUrl });
  app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
});
afterAll(async () => {
  await app.close();
  await oidc.close();
  await issuer.close();
});

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

function call(method: Method, url: string, auth: Record<string, string>, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: { ...auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
}
const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });
const adminKey = { "x-patrol-admin-key": ADMIN_KEY };
const pats = (query = "") => `/${t.org.name}/_apis/tokens/pats?${V}${query}`;

async function newUser(email: string, displayName = "New User") {
  return issuer.store.createUser({ tenant: t.tenant.name, email, displayName });
}

async function lastEvent(actionId: string) {
  const page = await issuer.store.queryAuditLog({ tenantId: t.tenant.id, actionId, batchSize: 1 });
  return page.entries[0];
}

describe("e-mail binding", () => {
  it("binds only a verified email (the boolean true) from the email claim", async () => {
    const victim = await newUser("victim@example.com");
    const attempts = [
      { sub: "attacker-1", email: "victim@example.com", email_verified: undefined },
      { sub: "attacker-2", email: "victim@example.com", email_verified: "true" },
      { sub: "attacker-3", email: "victim@example.com", email_verified: "false" },
      { sub: "attacker-4", email: "victim@example.com", email_verified: false },
      { sub: "attacker-5", preferred_username: "victim@example.com", email_verified: true },
      { sub: "attacker-6", upn: "victim@example.com", email_verified: true },
    ];
    for (const claims of attempts) {
      // `email_verified: undefined` leaves out the claim the test provider would otherwise add.
      const jwt = await oidc.sign(claims);
      const response = await call("GET", pats(), bearer(jwt));
      expect(response.statusCode, JSON.stringify(claims)).toBe(403);
    }
    expect((await issuer.store.getUser(t.tenant.name, victim.email)).subject).toBeNull();
    const owner = await oidc.sign({ sub: "victim-sub", email: "Victim@Example.com", email_verified: true });
    expect((await call("GET", pats(), bearer(owner))).statusCode).toBe(200);
    expect((await issuer.store.getUser(t.tenant.name, victim.email)).subject).toBe("victim-sub");
  });

  it("never rebinds a bound account, not even to a verified email", async () => {
    await newUser("bound@example.com");
    const first = await oidc.sign({ sub: "bound-sub", email: "bound@example.com" });
    expect((await call("GET", pats(), bearer(first))).statusCode).toBe(200);
    const takeover = await oidc.sign({ sub: "other-sub", email: "bound@example.com", email_verified: true });
    expect((await call("GET", pats(), bearer(takeover))).statusCode).toBe(403);
    expect((await issuer.store.getUser(t.tenant.name, "bound@example.com")).subject).toBe("bound-sub");
    expect((await call("GET", pats(), bearer(first))).statusCode).toBe(200);
  });

  it("lets exactly one of two racing first sign-ins bind", async () => {
    await newUser("race@example.com");
    const jwts = await Promise.all(
      ["race-a", "race-b", "race-c"].map((sub) => oidc.sign({ sub, email: "race@example.com" })),
    );
    const statuses = (await Promise.all(jwts.map((jwt) => call("GET", pats(), bearer(jwt))))).map(
      (r) => r.statusCode,
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 403)).toHaveLength(2);
    const winner = ["race-a", "race-b", "race-c"][statuses.indexOf(200)];
    expect((await issuer.store.getUser(t.tenant.name, "race@example.com")).subject).toBe(winner);
  });
});

describe("JWT checks", () => {
  it("refuse tokens without iat or older than the maximum age, a non-string sub, and non-JWT typ", async () => {
    await newUser("jwt@example.com");
    const claims = { sub: "jwt-sub", email: "jwt@example.com" };
    const now = Math.floor(Date.now() / 1000);
    const maxAge = issuer.config.auth.maxTokenAgeSeconds;
    const refused = [
      await oidc.sign(claims, { issuedAt: null }),
      await oidc.sign(claims, { issuedAt: now - maxAge - 120, expiresIn: "1h" }),
      await oidc.sign(claims, { issuedAt: now + 600 }),
      await oidc.sign({ ...claims, sub: 12345 as unknown as string }),
      await oidc.sign({ ...claims, sub: "bad\u0000sub" }),
      await oidc.sign(claims, { header: { typ: "dpop+jwt" } }),
      await oidc.sign(claims, { header: { typ: "secevent+jwt" } }),
    ];
    for (const [i, jwt] of refused.entries()) {
      expect((await call("GET", pats(), bearer(jwt))).statusCode, `token ${i}`).toBe(401);
    }
    for (const typ of [undefined, "JWT", "at+jwt", "application/at+jwt"]) {
      const jwt = await oidc.sign(claims, typ ? { header: { typ } } : {});
      expect((await call("GET", pats(), bearer(jwt))).statusCode, String(typ)).toBe(200);
    }
    // Within the stated clock skew (30 s), an iat slightly ahead is fine.
    const ahead = await oidc.sign(claims, { issuedAt: now + 10 });
    expect((await call("GET", pats(), bearer(ahead))).statusCode).toBe(200);
  });
});

describe("a tenant administrator cannot become another user", () => {
  it("cannot point the tenant at another identity provider; the platform administrator can, audited", async () => {
    const adminJwt = await oidc.sign({ sub: "tenant-admin-sub", email: t.admin.email });
    const url = `/_apis/patrol/tenants/${t.tenant.name}/oidc`;
    const evil = { jwksUrl: "http://127.0.0.1:9/evil-jwks.json", issuer: "https://evil.example/" };
    expect((await call("PATCH", url, bearer(adminJwt), evil)).statusCode).toBe(403);
    expect((await issuer.store.findTenant(t.tenant.name))?.oidc.jwksUrl).toBe(oidc.jwksUrl);
    await expect(
      issuer.store.updateTenantOidc(t.tenant.name, evil, { actor: asUser(t.admin) }),
    ).rejects.toMatchObject({ kind: "forbidden" });

    const audience = "api://patrol-tests-2";
    const response = await call("PATCH", url, adminKey, { audience });
    expect(response.statusCode, response.body).toBe(200);
    const event = await lastEvent("Tenant.IdentityProviderUpdated");
    expect(event).toMatchObject({
      actorKind: "admin",
      data: { oldOidcAudience: oidc.audience, newOidcAudience: audience, newOidcJwksUrl: oidc.jwksUrl },
    });
    expect((await call("PATCH", url, adminKey, { audience: oidc.audience })).statusCode).toBe(200);
  });

  it("cannot regenerate (read) another user's PAT, nor can the admin key; the owner can", async () => {
    const aliceJwt = await oidc.sign({ sub: "alice-sub", email: t.alice.email });
    const adminJwt = await oidc.sign({ sub: "tenant-admin-sub", email: t.admin.email });
    const created = await call("POST", pats(), bearer(aliceJwt), { displayName: "mine", scope: "vso.code" });
    expect(created.statusCode, created.body).toBe(200);
    const { authorizationId, token } = created.json().patToken;
    for (const auth of [bearer(adminJwt), adminKey]) {
      const response = await call("PUT", pats(), auth, { authorizationId, regenerate: true });
      expect(response.statusCode, response.body).toBe(403);
      expect(response.body).not.toMatch(/"token":"[A-Za-z0-9]{20,}/);
    }
    expect((await issuer.store.authenticatePat(token)).ok).toBe(true);
    const own = await call("PUT", pats(), bearer(aliceJwt), { authorizationId, regenerate: true });
    expect(own.statusCode).toBe(200);
    expect(own.json().patToken.token).not.toBe(token);
    expect(own.headers["cache-control"]).toBe("no-store");
    expect(created.headers["cache-control"]).toBe("no-store");
    // Administrators may still revoke it.
    expect(
      (await call("DELETE", pats(`&authorizationId=${authorizationId}`), bearer(adminJwt))).statusCode,
    ).toBe(200);
  });
});

describe("directory changes", () => {
  it("are each audited with who made them: organizations, users, status and groups", async () => {
    const s = await seedTenant(issuer.store, {
      issuer: oidc.issuer,
      audience: oidc.audience,
      jwksUrl: oidc.jwksUrl,
    });
    const adminJwt = await oidc.sign({ sub: `admin-${s.tenant.name}`, email: s.admin.email });
    const base = `/_apis/patrol/tenants/${s.tenant.name}`;
    const headers = { ...bearer(adminJwt), "x-tfs-session": "8d1c3b6e-1f2a-4b3c-9d4e-5f6a7b8c9d0e" };
    expect(
      (await call("POST", `${base}/organizations`, headers, { name: `${s.tenant.name}-x` })).statusCode,
    ).toBe(201);
    expect(
      (await call("POST", `${base}/users`, headers, { email: "carol@example.com", displayName: "Carol" }))
        .statusCode,
    ).toBe(201);
    const user = `${base}/users/carol@example.com`;
    expect((await call("PATCH", user, headers, { status: "disabled" })).statusCode).toBe(200);
    expect((await call("PATCH", user, headers, { status: "active" })).statusCode).toBe(200);
    expect((await call("PATCH", user, headers, { groups: ["ops", "dev"] })).statusCode).toBe(200);
    expect((await call("PATCH", user, headers, { groups: ["dev"] })).statusCode).toBe(200);

    const { entries } = await issuer.store.queryAuditLog({ tenantId: s.tenant.id, batchSize: 50 });
    const mine = entries.filter((e) => e.actorUserId === s.admin.id).reverse();
    expect(mine.map((e) => e.actionId)).toEqual([
      "Organization.Create",
      "User.Create",
      "User.Disable",
      "User.Enable",
      "Group.UpdateGroupMembership.Add",
      "Group.UpdateGroupMembership.Remove",
    ]);
    expect(mine.every((e) => e.correlationId === "8d1c3b6e-1f2a-4b3c-9d4e-5f6a7b8c9d0e")).toBe(true);
    expect(mine[4].data.groups).toBe("dev, ops");
    expect(mine[5].data.groups).toBe("ops");
    expect(entries.some((e) => e.actionId === "Tenant.Create")).toBe(true);
    expect((await issuer.store.verifyAuditChain(s.tenant.id)).ok).toBe(true);
  });
});

describe("audit details and correlation ids", () => {
  it("quote user-supplied names, and refuse bidi and line-separator controls in names", async () => {
    const aliceJwt = await oidc.sign({ sub: "alice-sub", email: t.alice.email });
    const tricky = 'x" was revoked by "Admin';
    const created = await call("POST", pats(), bearer(aliceJwt), { displayName: tricky, scope: "vso.code" });
    expect(created.statusCode, created.body).toBe(200);
    const event = await lastEvent("Token.PatCreateEvent");
    expect(event.details).toBe(`Personal access token ${JSON.stringify(tricky)} was created for "Alice A"`);
    for (const name of [
      "evil\u202Etxt.exe",
      "line\u2028break",
      "para\u2029graph",
      "iso\u2066late",
      "nul\u0000",
    ]) {
      const response = await call("POST", pats(), bearer(aliceJwt), { displayName: name, scope: "vso.code" });
      expect(response.statusCode, JSON.stringify(name)).toBe(400);
      await expect(
        issuer.store.createUser({
          tenant: t.tenant.name,
          email: `n${name.length}@example.com`,
          displayName: name,
        }),
      ).rejects.toMatchObject({ kind: "invalid" });
    }
  });

  it("take X-TFS-Session only when it is a GUID, else mint one", async () => {
    const aliceJwt = await oidc.sign({ sub: "alice-sub", email: t.alice.email });
    const forged = "abc\r\nFAKE-ENTRY";
    for (const [header, expectSame] of [
      ["0b4d2c1e-7a6f-4e3d-8c2b-1a0f9e8d7c6b", true],
      [forged, false],
      ["not-a-guid", false],
    ] as const) {
      const response = await call(
        "POST",
        pats(),
        { ...bearer(aliceJwt), "x-tfs-session": header },
        {
          displayName: "corr",
          scope: "vso.code",
        },
      );
      expect(response.statusCode, response.body).toBe(200);
      const event = await lastEvent("Token.PatCreateEvent");
      expect(event.correlationId).toMatch(GUID);
      expect(event.correlationId === header).toBe(expectSame);
    }
  });
});

describe("NUL bytes", () => {
  it("answer 400, not 500: revoke reason, user subject, OIDC issuer and audience", async () => {
    const aliceJwt = await oidc.sign({ sub: "alice-sub", email: t.alice.email });
    const created = await call("POST", pats(), bearer(aliceJwt), { displayName: "nul", scope: "vso.code" });
    const { authorizationId } = created.json().patToken;
    const responses = [
      await call("POST", `/_apis/patrol/pats/${authorizationId}/revoke`, adminKey, {
        reason: "bad\u0000reason",
      }),
      await call("POST", `/_apis/patrol/tenants/${t.tenant.name}/users`, adminKey, {
        email: "nul@example.com",
        displayName: "Nul",
        subject: "sub\u0000x",
      }),
      await call("PATCH", `/_apis/patrol/tenants/${t.tenant.name}/oidc`, adminKey, {
        issuer: "https://x\u0000/",
      }),
      await call("PATCH", `/_apis/patrol/tenants/${t.tenant.name}/oidc`, adminKey, { audience: "aud\u0000" }),
    ];
    for (const response of responses) expect(response.statusCode, response.body).toBe(400);
    expect((await issuer.store.authenticatePat(created.json().patToken.token)).ok).toBe(true);
    expect((await issuer.store.findTenant(t.tenant.name))?.oidc.issuer).toBe(oidc.issuer);
  });
});

describe("NUL bytes anywhere in a URL", () => {
  it("never answer 500", async () => {
    const aliceJwt = await oidc.sign({ sub: "alice-sub", email: t.alice.email });
    const urls = [
      `/_apis/patrol/tenants/a%00b`,
      `/_apis/patrol/tenants/a%00b/policies`,
      `/_apis/patrol/tenants/${t.tenant.name}/users/a%00b@example.com`,
      `/${t.org.name}/_apis/tokens/pats?${V}&user=a%00b@example.com`,
      `/${t.org.name}/_apis/tokens/pats?${V}&authorizationId=%00`,
      `/a%00b/_apis/tokens/pats?${V}`,
      `/a%00b/_apis/connectionData`,
      `/${t.org.name}/_apis/audit/auditlog?continuationToken=%00`,
    ];
    for (const url of urls) {
      for (const auth of [adminKey, bearer(aliceJwt)]) {
        const response = await call("GET", url, auth);
        expect(response.statusCode, `${url}: ${response.body}`).toBeLessThan(500);
      }
    }
    const basic = { authorization: `Basic ${Buffer.from(":x\u0000y").toString("base64")}` };
    expect((await call("GET", `/${t.org.name}/_apis/connectionData`, basic)).statusCode).toBe(401);
  });
});
