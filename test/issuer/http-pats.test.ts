import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { buildIssuerServer, IssuerStore } from "../../src/issuer/index.js";
import { isWellFormed } from "../../src/tokens/index.js";
import {
  ADMIN,
  ADMIN_KEY,
  asUser,
  openTestIssuer,
  seedTenant,
  startOidcProvider,
  type TestIssuer,
  type TestOidcProvider,
  type TestTenant,
  uniqueName,
} from "../support/issuer.js";

const V = "api-version=7.1-preview.1";

let issuer: TestIssuer;
let oidc: TestOidcProvider;
let app: FastifyInstance;
let t: TestTenant;
let aliceJwt: string;
let bobJwt: string;
let adminJwt: string;

beforeAll(async () => {
  issuer = await openTestIssuer();
  oidc = await startOidcProvider();
  t = await seedTenant(issuer.store, { issuer: oidc.issuer, audience: oidc.audience, jwksUrl: oidc.jwksUrl });
  app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
  aliceJwt = await oidc.sign({ sub: "alice-subject", email: "alice@example.com" });
  bobJwt = await oidc.sign({ sub: "bob-subject", email: "bob@example.com" });
  adminJwt = await oidc.sign({ sub: "admin-subject", email: "admin@example.com" });
});
afterAll(async () => {
  await app.close();
  await oidc.close();
  await issuer.close();
});

interface CallOptions {
  jwt?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

function call(method: "GET" | "POST" | "PUT" | "DELETE" | "PATCH", url: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.jwt) headers.authorization = `Bearer ${options.jwt}`;
  if (options.body !== undefined || options.rawBody !== undefined) {
    headers["content-type"] ??= "application/json";
  }
  return app.inject({
    method,
    url,
    headers,
    payload: options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
}

const pats = (org = t.org.name, query = "") => `/${org}/_apis/tokens/pats?${V}${query}`;

async function snapshot() {
  const { rows } = await issuer.store.db.query<{ pats: string; events: number }>(
    `SELECT (SELECT coalesce(string_agg(authorization_id || display_name || scope || status || valid_to::text || fingerprint, ','
              ORDER BY authorization_id), '') FROM pats) AS pats,
            (SELECT count(*)::int FROM audit_events) AS events`,
  );
  return rows[0];
}

function expectError(response: LightMyRequestResponse, status: number, patTokenError?: string) {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json();
  expect(typeof body.message).toBe("string");
  expect(body.message.length).toBeGreaterThan(5);
  if (patTokenError) {
    expect(body.patTokenError).toBe(patTokenError);
    expect(body.patToken).toBeNull();
  }
  return body;
}

describe("PAT lifecycle over HTTP", () => {
  it("creates a PAT in the Azure DevOps shape, showing the token only in that answer", async () => {
    const validTo = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const response = await call("POST", pats(), {
      jwt: aliceJwt,
      body: { displayName: "http pat", scope: "vso.code vso.build", validTo, allOrgs: false },
      headers: { "x-correlation-id": "6f1c2b9e-0d7a-4c55-9e1b-3a2f8c4d5e60" },
    });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body.patTokenError).toBe("none");
    expect(Object.keys(body.patToken).sort()).toEqual(
      ["authorizationId", "displayName", "scope", "targetAccounts", "token", "validFrom", "validTo"].sort(),
    );
    expect(body.patToken).toMatchObject({
      displayName: "http pat",
      scope: "vso.code vso.build",
      targetAccounts: [t.org.id],
      validTo,
    });
    expect(isWellFormed(body.patToken.token)).toBe(true);

    const listed = (await call("GET", pats(), { jwt: aliceJwt })).json();
    expect(listed.patTokens.map((p: { displayName: string }) => p.displayName)).toContain("http pat");
    expect(listed.patTokens.every((p: { token: unknown }) => p.token === null)).toBe(true);
    expect(listed).toHaveProperty("continuationToken");

    const got = await call("GET", pats(t.org.name, `&authorizationId=${body.patToken.authorizationId}`), {
      jwt: aliceJwt,
    });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual({ patToken: { ...body.patToken, token: null }, patTokenError: "none" });

    const [event] = (
      await issuer.store.queryAuditLog({
        tenantId: t.tenant.id,
        actionId: "Token.PatCreateEvent",
        batchSize: 1,
      })
    ).entries;
    expect(event).toMatchObject({
      correlationId: "6f1c2b9e-0d7a-4c55-9e1b-3a2f8c4d5e60",
      ipAddress: "127.0.0.1",
      actorUpn: "alice@example.com",
      actorKind: "user",
    });
  });

  it("creates a global PAT with targetAccounts null", async () => {
    const response = await call("POST", pats(), {
      jwt: aliceJwt,
      body: { displayName: "g", scope: "vso.work", allOrgs: true },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().patToken.targetAccounts).toBeNull();
  });

  it("pages the list with continuationToken and $top", async () => {
    for (let i = 0; i < 3; i++) {
      await call("POST", pats(t.otherOrg.name), {
        jwt: bobJwt,
        body: { displayName: `page ${i}`, scope: "vso.code" },
      });
    }
    const first = (await call("GET", pats(t.otherOrg.name, "&$top=2"), { jwt: bobJwt })).json();
    expect(first.patTokens).toHaveLength(2);
    expect(typeof first.continuationToken).toBe("string");
    const second = (
      await call(
        "GET",
        pats(t.otherOrg.name, `&$top=2&continuationToken=${encodeURIComponent(first.continuationToken)}`),
        {
          jwt: bobJwt,
        },
      )
    ).json();
    expect(second.patTokens).toHaveLength(1);
    // The last page ends with an empty continuation token, as in Azure DevOps' ListPats example.
    expect(second.continuationToken).toBe("");
  });

  it("updates (rename, rescope, renew) and regenerates, returning the token only when regenerated", async () => {
    const created = (
      await call("POST", pats(), { jwt: aliceJwt, body: { displayName: "to update", scope: "vso.code" } })
    ).json();
    const id = created.patToken.authorizationId;
    const validTo = new Date(Date.now() + 20 * 86_400_000).toISOString();
    const updated = await call("PUT", pats(), {
      jwt: aliceJwt,
      body: { authorizationId: id, displayName: "updated", scope: "vso.code_write", validTo },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({
      patToken: {
        authorizationId: id,
        displayName: "updated",
        scope: "vso.code_write",
        validTo,
        token: null,
      },
      patTokenError: "none",
    });

    const regenerated = (
      await call("PUT", pats(), { jwt: aliceJwt, body: { authorizationId: id, regenerate: true } })
    ).json();
    expect(regenerated.patToken.authorizationId).toBe(id);
    expect(isWellFormed(regenerated.patToken.token)).toBe(true);
    expect(regenerated.patToken.token).not.toBe(created.patToken.token);
    expect(await issuer.store.authenticatePat(created.patToken.token)).toEqual({
      ok: false,
      reason: "unknown",
    });
    expect((await issuer.store.authenticatePat(regenerated.patToken.token)).ok).toBe(true);
  });

  it("revokes with DELETE (200, empty body); a member cannot revoke another's PAT but a tenant admin can", async () => {
    const mine = (
      await call("POST", pats(), { jwt: aliceJwt, body: { displayName: "short", scope: "vso.code" } })
    ).json();
    const revoke = await call(
      "DELETE",
      pats(t.org.name, `&authorizationId=${mine.patToken.authorizationId}`),
      { jwt: aliceJwt },
    );
    expect(revoke.statusCode).toBe(200);
    expect(revoke.body).toBe("");
    expect(await issuer.store.authenticatePat(mine.patToken.token)).toEqual({ ok: false, reason: "revoked" });

    const bobs = (
      await call("POST", pats(), { jwt: bobJwt, body: { displayName: "bob's", scope: "vso.code" } })
    ).json();
    const url = pats(t.org.name, `&authorizationId=${bobs.patToken.authorizationId}`);
    expectError(await call("DELETE", url, { jwt: aliceJwt }), 404, "authorizationNotFound");
    expect((await issuer.store.authenticatePat(bobs.patToken.token)).ok).toBe(true);
    expect((await call("DELETE", url, { jwt: adminJwt })).statusCode).toBe(200);
    expect(await issuer.store.authenticatePat(bobs.patToken.token)).toEqual({ ok: false, reason: "revoked" });
  });

  it("lets the admin API key create a PAT for a named user, in either header form", async () => {
    const viaBearer = await call("POST", pats(t.org.name, "&user=bob@example.com"), {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      body: { displayName: "by key", scope: "vso.packaging" },
    });
    expect(viaBearer.statusCode, viaBearer.body).toBe(200);
    const viaHeader = await call("GET", pats(t.org.name, "&user=bob@example.com&displayFilterOption=all"), {
      headers: { "x-patrol-admin-key": ADMIN_KEY },
    });
    expect(viaHeader.statusCode).toBe(200);
    expect(viaHeader.json().patTokens.map((p: { displayName: string }) => p.displayName)).toContain("by key");
    const [event] = (await issuer.store.queryAuditLog({ tenantId: t.tenant.id, batchSize: 1 })).entries;
    expect(event).toMatchObject({ actionId: "Token.PatCreateEvent", actorKind: "admin" });
  });
});

describe("policy violations over HTTP", () => {
  it("answer 400 with the Azure DevOps patTokenError and a clear message, and change nothing", async () => {
    const s = await seedTenant(issuer.store, {
      issuer: oidc.issuer,
      audience: oidc.audience,
      jwksUrl: oidc.jwksUrl,
    });
    await issuer.store.setTenantPolicies(
      s.tenant.name,
      { restrictGlobalPats: true, restrictFullScopePats: true, maxPatLifespanDays: 5 },
      ADMIN,
    );
    await issuer.store.setOrganizationPolicies(s.otherOrg.name, { restrictPatCreation: true }, ADMIN);
    const before = await snapshot();
    const cases: [string, Record<string, unknown>, string][] = [
      [s.org.name, { displayName: "g", scope: "vso.code", allOrgs: true }, "globalPatPolicyViolation"],
      [s.org.name, { displayName: "f", scope: "app_token" }, "fullScopePatPolicyViolation"],
      [
        s.org.name,
        { displayName: "l", scope: "vso.code", validTo: new Date(Date.now() + 6 * 86_400_000).toISOString() },
        "patLifespanPolicyViolation",
      ],
      [s.otherOrg.name, { displayName: "o", scope: "vso.code" }, "disablePatCreationPolicyViolation"],
    ];
    for (const [org, body, code] of cases) {
      // disablePatCreationPolicyViolation exists from the 7.2 contract on: ask for 7.2 to get it.
      const url = `/${org}/_apis/tokens/pats?api-version=7.2-preview.1`;
      const response = await call("POST", url, { jwt: aliceJwt, body });
      const error = expectError(response, 400, code);
      expect(error.typeKey).toBe("PolicyViolationException");
    }
    // A 7.1 caller gets a value of the 7.1 SessionTokenError enum for the same refusal.
    const older = await call("POST", pats(s.otherOrg.name), {
      jwt: aliceJwt,
      body: { displayName: "o", scope: "vso.code" },
    });
    expectError(older, 400, "accessDenied");
    expect(older.json().message).toMatch(/restricts personal access token creation/);
    expect(await snapshot()).toEqual(before);
  });
});

describe("bad input over HTTP gets a clear 4xx and changes nothing", () => {
  it.each([
    [
      // As a known organization answers a token of another tenant: names cannot be probed.
      "unknown organization",
      "POST",
      "/no-such-org/_apis/tokens/pats?api-version=7.1-preview.1",
      { rawBody: '{"scope":"vso.code"}' },
      401,
      undefined,
    ],
    ["malformed JSON", "POST", "", { rawBody: '{"displayName": "x", "scope": ' }, 400, undefined],
    ["a JSON array", "POST", "", { body: [1, 2] }, 400, undefined],
    [
      "displayName of the wrong type",
      "POST",
      "",
      { body: { displayName: 7, scope: "vso.code" } },
      400,
      "invalidDisplayName",
    ],
    ["a missing displayName", "POST", "", { body: { scope: "vso.code" } }, 400, "displayNameRequired"],
    [
      "a too-long displayName",
      "POST",
      "",
      { body: { displayName: "n".repeat(300), scope: "vso.code" } },
      400,
      "invalidDisplayName",
    ],
    [
      "a past validTo",
      "POST",
      "",
      { body: { displayName: "x", scope: "vso.code", validTo: "2020-01-01T00:00:00Z" } },
      400,
      "invalidValidTo",
    ],
    [
      "a validTo more than a year ahead (a date alone is midnight UTC)",
      "POST",
      "",
      { body: { displayName: "x", scope: "vso.code", validTo: "2099-01-01" } },
      400,
      "invalidValidTo",
    ],
    [
      "unknown scopes",
      "POST",
      "",
      { body: { displayName: "x", scope: "vso.code vso.everything" } },
      400,
      "invalidScope",
    ],
    ["a missing scope", "POST", "", { body: { displayName: "x" } }, 400, "invalidScope"],
    [
      "allOrgs of the wrong type",
      "POST",
      "",
      { body: { displayName: "x", scope: "vso.code", allOrgs: "yes" } },
      400,
      "invalidTargetAccounts",
    ],
    [
      "a body over 64 KB",
      "POST",
      "",
      { body: { displayName: "x", scope: "vso.code", pad: "x".repeat(70_000) } },
      413,
      undefined,
    ],
    [
      "a non-JSON content type",
      "POST",
      "",
      { rawBody: "displayName=x", headers: { "content-type": "text/plain" } },
      415,
      undefined,
    ],
    [
      "a missing api-version",
      "POST",
      "/ORG/_apis/tokens/pats",
      { body: { displayName: "x", scope: "vso.code" } },
      400,
      undefined,
    ],
    [
      "an unsupported api-version",
      "POST",
      "/ORG/_apis/tokens/pats?api-version=5.0",
      { body: { displayName: "x", scope: "vso.code" } },
      400,
      undefined,
    ],
    [
      "a malformed authorizationId",
      "PUT",
      "",
      { body: { authorizationId: "123", displayName: "x" } },
      400,
      "invalidAuthorizationId",
    ],
    [
      "an unknown authorizationId",
      "PUT",
      "",
      { body: { authorizationId: "0b7c5a1e-2222-4d3b-8f44-999999999999", displayName: "x" } },
      404,
      "authorizationNotFound",
    ],
    ["a DELETE without authorizationId", "DELETE", "", {}, 400, undefined],
    [
      "a GET with a malformed authorizationId",
      "GET",
      "/ORG/_apis/tokens/pats?api-version=7.1-preview.1&authorizationId=nope",
      {},
      400,
      "invalidAuthorizationId",
    ],
    [
      "a $top out of range",
      "GET",
      "/ORG/_apis/tokens/pats?api-version=7.1-preview.1&$top=0",
      {},
      400,
      undefined,
    ],
    [
      "an unknown displayFilterOption",
      "GET",
      "/ORG/_apis/tokens/pats?api-version=7.1-preview.1&displayFilterOption=some",
      {},
      400,
      undefined,
    ],
  ] as const)("%s", async (_name, method, url, options, status, code) => {
    const before = await snapshot();
    const target = url === "" ? pats() : url.replace("ORG", t.org.name);
    const response = await call(method, target, { jwt: aliceJwt, ...(options as CallOptions) });
    expectError(response, status, code);
    expect(await snapshot()).toEqual(before);
  });
});

describe("lifecycle callers", () => {
  it("must not use a PAT, in any header form", async () => {
    const { token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "p",
      scope: "app_token",
      actor: asUser(t.alice),
    });
    const basic = await call("GET", pats(), {
      headers: { authorization: `Basic ${Buffer.from(`:${token}`).toString("base64")}` },
    });
    expect(expectError(basic, 401).message).toMatch(/PATs cannot/);
    expectError(await call("GET", pats(), { headers: { authorization: `Bearer ${token}` } }), 401);
    expectError(await call("GET", pats(), { headers: { "x-patrol-admin-key": token } }), 401);
  });

  it("get 401 without credentials or with a wrong admin key", async () => {
    const none = await call("GET", pats());
    expectError(none, 401);
    expect(none.headers["www-authenticate"]).toMatch(/Bearer/);
    expectError(
      await call("GET", pats(), { headers: { authorization: "Bearer not-the-admin-key-at-all" } }),
      401,
    );
    expectError(await call("GET", pats(), { headers: { "x-patrol-admin-key": `${ADMIN_KEY}x` } }), 401);
    expectError(await call("GET", pats(), { headers: { authorization: `Token ${ADMIN_KEY}` } }), 401);
  });

  it("get 401 for JWTs with the wrong audience, issuer, signature or expiry", async () => {
    const claims = { sub: "alice-subject", email: "alice@example.com" };
    for (const jwt of [
      await oidc.sign(claims, { audience: "api://someone-else" }),
      await oidc.sign(claims, { issuer: "https://evil.example/" }),
      await oidc.sign(claims, { foreignKey: true }),
      await oidc.sign(claims, { expiresIn: "-5m" }),
    ]) {
      const response = await call("GET", pats(), { jwt });
      expect(expectError(response, 401).message).toMatch(/rejected/);
    }
  });

  it("get 403 when the JWT is valid but names no usable user of the tenant", async () => {
    expectError(
      await call("GET", pats(), { jwt: await oidc.sign({ sub: "stranger", email: "stranger@example.com" }) }),
      403,
    );
    expectError(
      await call("GET", pats(), {
        jwt: await oidc.sign({ sub: "someone", email: "carol@example.com", email_verified: false }),
      }),
      403,
    );
    // Alice's subject is bound at her first sign-in: her email with another subject is not her.
    await call("GET", pats(), { jwt: aliceJwt });
    expectError(
      await call("GET", pats(), { jwt: await oidc.sign({ sub: "impostor", email: "alice@example.com" }) }),
      403,
    );
    // Another tenant that trusts the same provider but has no such user does not let her in.
    const other = await issuer.store.createTenant({
      name: uniqueName("tenant"),
      oidc: { issuer: oidc.issuer, audience: oidc.audience, jwksUrl: oidc.jwksUrl },
    });
    const otherOrg = await issuer.store.createOrganization({ tenant: other.name, name: uniqueName("org") });
    expectError(await call("GET", pats(otherOrg.name), { jwt: aliceJwt }), 403);

    const dave = await issuer.store.createUser({
      tenant: t.tenant.name,
      email: "dave@example.com",
      displayName: "Dave",
    });
    const daveJwt = await oidc.sign({ sub: "dave-subject", email: "dave@example.com" });
    expect((await call("GET", pats(), { jwt: daveJwt })).statusCode).toBe(200);
    await issuer.store.setUserStatus(t.tenant.name, "dave@example.com", "disabled");
    expect(expectError(await call("GET", pats(), { jwt: daveJwt }), 403).message).toMatch(/disabled/);
    expect(dave.subject).toBeNull();
  });

  it("record the last full sign-in and bind the subject", async () => {
    const erin = await issuer.store.createUser({
      tenant: t.tenant.name,
      email: "erin@example.com",
      displayName: "Erin",
    });
    expect(erin.lastFullSignInAt).toBeNull();
    const jwt = await oidc.sign({ sub: "erin-subject", email: "Erin@Example.com" });
    expect((await call("GET", pats(), { jwt })).statusCode).toBe(200);
    const after = await issuer.store.getUser(t.tenant.name, "erin@example.com");
    expect(after.subject).toBe("erin-subject");
    expect(after.lastFullSignInAt).not.toBeNull();
  });

  it("fall back to the service's OIDC settings for a tenant without its own", async () => {
    const config = loadConfig({
      ...process.env,
      PATROL_ADMIN_KEY: ADMIN_KEY,
      OIDC_ISSUER: oidc.issuer,
      OIDC_AUDIENCE: oidc.audience,
      OIDC_JWKS_URL: oidc.jwksUrl,
    });
    const store = new IssuerStore({ db: issuer.store.db, logger: issuer.logger, config });
    const server = await buildIssuerServer({ store, config, logger: issuer.logger });
    try {
      const plain = await seedTenant(store);
      const jwt = await oidc.sign({ sub: "plain-alice", email: "alice@example.com" });
      const response = await server.inject({
        method: "POST",
        url: `/${plain.org.name}/_apis/tokens/pats?${V}`,
        headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
        payload: JSON.stringify({ displayName: "via defaults", scope: "vso.code" }),
      });
      expect(response.statusCode, response.body).toBe(200);
      // Without any OIDC settings, bearer JWTs cannot be checked at all.
      const unconfigured = await seedTenant(issuer.store);
      const refused = await call("GET", pats(unconfigured.org.name), { jwt });
      // The caller gets the one text for every refused token; the reason is in the log for the operator.
      expect(expectError(refused, 401).message).toMatch(/rejected/);
      expect(issuer.logs.some((l) => l.includes("OIDC sign-in is not configured"))).toBe(true);
    } finally {
      await server.close();
    }
  });
});
