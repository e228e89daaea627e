/**
 * patrol against Azure DevOps' published contract (MicrosoftDocs/vsts-rest-api-specs, kept under
 * test/issuer/azure-devops-spec): every PAT and audit response is held against the spec's JSON definitions, the
 * spec's own example requests are replayed as written (case, api-version), and connectionData is driven with
 * Microsoft's official Node client. Over a real socket.
 */
import type { AddressInfo } from "node:net";
import { getPersonalAccessTokenHandler, WebApi } from "azure-devops-node-api";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runIssuerCommand } from "../../src/cli/issuer-commands.js";
import { buildIssuerServer } from "../../src/issuer/index.js";
import { mintAzdo } from "../../src/tokens/index.js";
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
} from "../support/issuer.js";
import { conforms, readSpec, specEnum, validator } from "./spec-schemas.js";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers and spec documents are read field by field in assertions
type JsonAny = any;

const TOKENS_71 = "tokens/7.1/tokens.json";
const AUDIT_71 = "audit/7.1/audit.json";
const patTokenResult = validator(TOKENS_71, "PatTokenResult");
const pagedPatTokens = validator(TOKENS_71, "PagedPatTokens");
const auditLogQueryResult = validator(AUDIT_71, "AuditLogQueryResult");
const decoratedEntry = validator(AUDIT_71, "DecoratedAuditLogEntry");
const ERRORS_71 = specEnum(TOKENS_71, "PatTokenResult", "patTokenError");
const ERRORS_72 = specEnum("tokens/7.2/tokens.json", "PatTokenResult", "patTokenError");

interface HttpExample {
  "x-ms-vss-request-method": string;
  "x-ms-vss-request-url": string;
  parameters: { body?: Record<string, unknown> };
  responses: Record<string, { body?: Record<string, unknown> }>;
}
const example = (name: string) =>
  readSpec(`tokens/7.1/httpExamples/Pats/${name}.json`) as unknown as HttpExample;

let issuer: TestIssuer;
let oidc: TestOidcProvider;
let app: FastifyInstance;
let base: string;
let t: TestTenant;
let aliceJwt: string;

beforeAll(async () => {
  issuer = await openTestIssuer();
  oidc = await startOidcProvider();
  t = await seedTenant(issuer.store, { issuer: oidc.issuer, audience: oidc.audience, jwksUrl: oidc.jwksUrl });
  app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  aliceJwt = await oidc.sign({ sub: "alice-subject", email: "alice@example.com" });
}, 60_000);
afterAll(async () => {
  await app.close();
  await oidc.close();
  await issuer.close();
});

async function call(
  method: string,
  url: string,
  options: { auth?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth) headers.authorization = options.auth;
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${base}${url}`, { method, headers, body: payload });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    // not JSON: keep text
  }
  return { status: response.status, headers: response.headers, text, json: json as Record<string, JsonAny> };
}

const bearer = (jwt: string) => `Bearer ${jwt}`;
const basic = (token: string) => `Basic ${Buffer.from(`any:${token}`).toString("base64")}`;
const future = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
/** The path and query of a spec example's request URL, on this organization. */
const examplePath = (e: HttpExample, org: string) =>
  new URL(e["x-ms-vss-request-url"]).pathname.replace("/fabrikam/", `/${org}/`) +
  new URL(e["x-ms-vss-request-url"]).search;

const ERROR_BODY_KEYS = ["$id", "innerException", "message", "typeName", "typeKey", "errorCode", "eventId"];
function expectErrorBody(body: Record<string, unknown>) {
  for (const key of ERROR_BODY_KEYS) expect(body, JSON.stringify(body)).toHaveProperty(key);
  expect(typeof body.message).toBe("string");
  expect(typeof body.typeKey).toBe("string");
  expect(typeof body.errorCode).toBe("number");
  expect(typeof body.eventId).toBe("number");
  expect(body.innerException).toBeNull();
}

describe("the PAT lifecycle API against tokens.json 7.1 and its examples", () => {
  it("replays the spec's example requests as written and answers in the spec's shapes", async () => {
    const auth = bearer(aliceJwt);
    const create = example("CreatePat");
    const createBody = { ...create.parameters.body, validTo: future(20), displayName: "new_token" };
    const created = await call("POST", examplePath(create, t.org.name), { auth, body: createBody });
    expect(created.status, created.text).toBe(200);
    expect(conforms(patTokenResult, created.json)).toBeNull();
    const expectedKeys = Object.keys(create.responses["200"].body?.patToken as object).sort();
    expect(Object.keys(created.json.patToken).sort()).toEqual(expectedKeys);
    expect(created.json.patTokenError).toBe("none");
    expect(created.json.patToken.targetAccounts).toEqual([t.org.id]);
    const id = created.json.patToken.authorizationId;

    const get = example("GetPat");
    const gotUrl = examplePath(get, t.org.name).replace(/authorizationId=[^&]+/, `authorizationId=${id}`);
    const got = await call("GET", gotUrl, { auth });
    expect(got.status, got.text).toBe(200);
    expect(conforms(patTokenResult, got.json)).toBeNull();
    expect(got.json.patToken.token).toBeNull();

    const list = await call("GET", examplePath(example("ListPats"), t.org.name), { auth });
    expect(list.status, list.text).toBe(200);
    expect(conforms(pagedPatTokens, list.json)).toBeNull();
    expect(list.json.continuationToken).toBe("");
    expect(list.json.patTokens.map((p: { authorizationId: string }) => p.authorizationId)).toContain(id);

    const update = example("UpdatePat");
    const updated = await call("PUT", examplePath(update, t.org.name), {
      auth,
      body: { ...update.parameters.body, authorizationId: id, validTo: future(25) },
    });
    expect(updated.status, updated.text).toBe(200);
    expect(conforms(patTokenResult, updated.json)).toBeNull();
    expect(updated.json.patToken).toMatchObject({ displayName: "updated_token", targetAccounts: null });

    const revoke = example("RevokePat");
    const revokeUrl = examplePath(revoke, t.org.name).replace(
      /authorizationId=[^&]+/,
      `authorizationId=${id}`,
    );
    const revoked = await call("DELETE", revokeUrl, { auth });
    expect(revoked.status).toBe(200);
    expect(revoked.text).toBe("");
  });

  it("answers every refusal with Azure DevOps' error body and, for 7.1 callers, only 7.1 SessionTokenError values", async () => {
    const s = await seedTenant(issuer.store, {
      issuer: oidc.issuer,
      audience: oidc.audience,
      jwksUrl: oidc.jwksUrl,
    });
    await issuer.store.setTenantPolicies(
      s.tenant.name,
      { restrictGlobalPats: true, maxPatLifespanDays: 5 },
      ADMIN,
    );
    await issuer.store.setOrganizationPolicies(s.otherOrg.name, { restrictPatCreation: true }, ADMIN);
    const { pat: expiring } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "soon",
      scope: "vso.code",
      validTo: new Date(issuer.clock.now().getTime() + 1000),
      actor: asUser(s.alice),
    });
    issuer.clock.advance(2000);
    const auth = bearer(aliceJwt);
    const cases: [string, string, Record<string, unknown>, string, string][] = [
      [
        "POST",
        s.org.name,
        { displayName: "g", scope: "vso.code", allOrgs: true },
        "globalPatPolicyViolation",
        "globalPatPolicyViolation",
      ],
      [
        "POST",
        s.org.name,
        { displayName: "l", scope: "vso.code", validTo: future(6) },
        "patLifespanPolicyViolation",
        "patLifespanPolicyViolation",
      ],
      [
        "POST",
        s.otherOrg.name,
        { displayName: "o", scope: "vso.code" },
        "accessDenied",
        "disablePatCreationPolicyViolation",
      ],
      ["POST", s.org.name, { displayName: "x", scope: "vso.nothing" }, "invalidScope", "invalidScope"],
      ["POST", s.org.name, { scope: "vso.code" }, "displayNameRequired", "displayNameRequired"],
      [
        "PUT",
        s.org.name,
        { authorizationId: expiring.authorizationId, validTo: future(2) },
        "invalidToken",
        "expiredPatCannotBeExtended",
      ],
    ];
    try {
      for (const [method, org, body, as71, as72] of cases) {
        for (const [version, expected, allowed] of [
          ["7.1-preview.1", as71, ERRORS_71],
          ["7.2-preview.1", as72, ERRORS_72],
        ] as const) {
          const response = await call(method, `/${org}/_apis/tokens/pats?api-version=${version}`, {
            auth,
            body,
          });
          expect(
            response.status,
            `${version} ${JSON.stringify(body)}: ${response.text}`,
          ).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
          expectErrorBody(response.json);
          expect(response.json.patTokenError).toBe(expected);
          expect(allowed).toContain(response.json.patTokenError);
        }
      }
    } finally {
      issuer.clock.set(new Date());
    }
    // Failures outside the lifecycle carry the same body.
    expectErrorBody((await call("GET", "/_apis/connectionData")).json);
    expectErrorBody((await call("GET", `/${t.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`)).json);
  });

  it("reads routes, parameter names, enum and boolean values and property names without regard to case", async () => {
    const auth = bearer(aliceJwt);
    const created = await call(
      "POST",
      `/${t.org.name.toUpperCase()}/_APIS/TOKENS/PATS?API-VERSION=7.1-Preview.1`,
      {
        auth,
        body: { DisplayName: "cased", SCOPE: "VSO.Code vso.WORK", validto: future(3), AllOrgs: false },
      },
    );
    expect(created.status, created.text).toBe(200);
    expect(created.json.patToken).toMatchObject({ displayName: "cased", scope: "vso.code vso.work" });
    const id = created.json.patToken.authorizationId;
    const got = await call(
      "GET",
      `/${t.org.name}/_apis/Tokens/Pats?api-version=7.1-preview.1&AuthorizationId=${id}`,
      { auth },
    );
    expect(got.status, got.text).toBe(200);
    expect(got.json.patToken.authorizationId).toBe(id);
    const listed = await call(
      "GET",
      `/${t.org.name}/_apis/Tokens/Pats?api-version=7.1-preview.1&displayFilterOption=Active&sortByOption=DISPLAYNAME&isSortAscending=False&$Top=50`,
      { auth },
    );
    expect(listed.status, listed.text).toBe(200);
    const names = listed.json.patTokens.map((p: { displayName: string }) => p.displayName.toLowerCase());
    expect(names).toEqual([...names].sort().reverse());
    const twice = await call("POST", `/${t.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`, {
      auth,
      body: { displayName: "a", DisplayName: "b", scope: "vso.code" },
    });
    expect(twice.status).toBe(400);
    expect(twice.json.message).toMatch(/displayName.*twice/);
    const { token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "case conn",
      scope: "vso.profile",
      actor: asUser(t.alice),
    });
    expect((await call("GET", "/_apis/connectiondata", { auth: basic(token) })).status).toBe(200);
    expect((await call("GET", `/${t.org.name}/_APIS/ConnectionData`, { auth: basic(token) })).status).toBe(
      200,
    );
  });

  it("accepts api-version 6.1-preview to 7.2-preview, refuses the rest clearly", async () => {
    const auth = bearer(aliceJwt);
    for (const version of [
      "6.1-preview",
      "6.1-preview.1",
      "7.0",
      "7.0-preview.1",
      "7.1-preview.1",
      "7.1",
      "7.2-preview.1",
    ]) {
      const response = await call("GET", `/${t.org.name}/_apis/tokens/pats?api-version=${version}`, { auth });
      expect(response.status, `${version}: ${response.text}`).toBe(200);
    }
    for (const version of ["6.0", "5.1-preview.1", "7.3-preview", "7.1-preview.2", "latest"]) {
      const response = await call("GET", `/${t.org.name}/_apis/tokens/pats?api-version=${version}`, { auth });
      expect(response.status, version).toBe(400);
      expect(response.json.message).toMatch(/api-version .*(6\.1-preview to 7\.2-preview)/);
    }
  });

  it("reads dates without a zone as UTC and gives every date a range with a clear 400", async () => {
    const auth = bearer(aliceJwt);
    const local = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 19);
    const created = await call("POST", `/${t.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`, {
      auth,
      body: { displayName: "zoneless", scope: "vso.code", validTo: local },
    });
    expect(created.status, created.text).toBe(200);
    expect(created.json.patToken.validTo).toBe(`${local}.000Z`);
    for (const validTo of ["0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "next week", "99999-01-01"]) {
      const response = await call("POST", `/${t.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`, {
        auth,
        body: { displayName: "bad date", scope: "vso.code", validTo },
      });
      expect(response.status, validTo).toBe(400);
      expect(response.json.patTokenError).toBe("invalidValidTo");
      expect(response.json.message).toMatch(/^validTo must be/);
    }
    const admin = { headers: { "x-patrol-admin-key": ADMIN_KEY } };
    for (const url of [
      `/${t.org.name}/_apis/audit/auditlog?startTime=0000-01-01T00:00:00Z`,
      `/${t.org.name}/_apis/audit/downloadlog?format=json&startTime=0000-01-01T00:00:00Z`,
      `/_apis/patrol/tenants/${t.tenant.name}/audit/export?startTime=0000-01-01T00:00:00Z`,
      `/${t.org.name}/_apis/audit/auditlog?endTime=10000-01-01T00:00:00Z`,
    ]) {
      const response = await call("GET", url, admin);
      expect(response.status, `${url}: ${response.text}`).toBe(400);
      expect(response.json.message).toMatch(
        /(startTime|endTime) must be (between 1970-01-01T00:00:00.000Z and 9999|an ISO 8601)/,
      );
    }
    const zoneless = await call(
      "GET",
      `/${t.org.name}/_apis/audit/auditlog?startTime=2000-01-01T00:00:00`,
      admin,
    );
    expect(zoneless.status, zoneless.text).toBe(200);

    let stderr = "";
    const code = await runIssuerCommand(
      ["audit", "export", "--tenant", t.tenant.name, "--since", "0000-01-01T00:00:00Z"],
      { stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) } },
      { store: issuer.store },
    );
    expect(code).toBe(2);
    expect(stderr).toMatch(/^patrol: --since must be between 1970-01-01T00:00:00.000Z and 9999-12-31/);
  });

  it("accepts Azure DevOps' published scope names and still rejects unknown ones", async () => {
    const auth = bearer(aliceJwt);
    for (const scope of [
      "vso.auditlog",
      "vso.code_full",
      "vso.serviceendpoint",
      "vso.pats",
      "vso.tokenadministration vso.threads_full",
    ]) {
      const response = await call("POST", `/${t.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`, {
        auth,
        body: { displayName: `scope ${scope}`, scope },
      });
      expect(response.status, `${scope}: ${response.text}`).toBe(200);
    }
    const unknown = await call("POST", `/${t.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`, {
      auth,
      body: { displayName: "bogus", scope: "vso.code vso.everything" },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ patTokenError: "invalidScope" });
    expect(unknown.json.message).toContain('"vso.everything"');
  });
});

describe("the audit API against audit.json 7.1", () => {
  it("answers AuditLogQueryResult with the spec's category and scopeType values and GUID correlation ids", async () => {
    const s = await seedTenant(issuer.store, {
      issuer: oidc.issuer,
      audience: oidc.audience,
      jwksUrl: oidc.jwksUrl,
    });
    const correlation = crypto.randomUUID();
    const admin = { "x-patrol-admin-key": ADMIN_KEY };
    const created = await call(
      "POST",
      `/${s.org.name}/_apis/tokens/pats?api-version=7.1-preview.1&user=alice@example.com`,
      {
        headers: { ...admin, "x-tfs-session": correlation },
        body: { displayName: "=cmd|' /C calc'!A0", scope: "vso.code" },
      },
    );
    expect(created.status, created.text).toBe(200);
    await call(
      "DELETE",
      `/${s.org.name}/_apis/tokens/pats?api-version=7.1-preview.1&authorizationId=${created.json.patToken.authorizationId}`,
      { headers: admin },
    );
    await issuer.store.setTenantPolicies(s.tenant.name, { restrictFullScopePats: true }, ADMIN);
    const page = await call("GET", `/${s.org.name}/_apis/audit/auditlog?api-version=7.1-preview.1`, {
      headers: admin,
    });
    expect(page.status).toBe(200);
    expect(conforms(auditLogQueryResult, page.json)).toBeNull();
    // Directory changes (tenant, organization, user creation) are audited too; this looks at PAT and policy events.
    const entries = (page.json.decoratedAuditLogEntries as Record<string, unknown>[]).filter(
      (e) => e.area === "Token" || e.area === "Policy",
    );
    expect(entries.map((e) => [e.actionId, e.category, e.scopeType])).toEqual([
      ["Policy.PolicyValueUpdated", "modify", "enterprise"],
      ["Token.PatRevokeEvent", "remove", "organization"],
      ["Token.PatCreateEvent", "create", "organization"],
    ]);
    expect(entries[2].correlationId).toBe(correlation);
    expect(entries[2].categoryDisplayName).toBe("Create");
    const example = readSpec("audit/7.1/httpExamples/auditLog/GET__AuditLog_QueryLog_by_date.json") as {
      responses: { 200: { body: { value: { decoratedAuditLogEntries: Record<string, unknown>[] } } } };
    };
    const exampleKeys = Object.keys(example.responses[200].body.value.decoratedAuditLogEntries[0]);
    for (const key of exampleKeys) expect(entries[0]).toHaveProperty(key);
  });

  it("downloads json and csv as DecoratedAuditLogEntry records, and keeps JSON lines as patrol's export", async () => {
    const s = await seedTenant(issuer.store, {
      issuer: oidc.issuer,
      audience: oidc.audience,
      jwksUrl: oidc.jwksUrl,
    });
    const admin = { headers: { "x-patrol-admin-key": ADMIN_KEY } };
    const formula = await issuer.store.createUser({
      tenant: s.tenant.name,
      email: "formula@example.com",
      displayName: '=HYPERLINK("x")',
    });
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: 'with "quotes", and a comma',
      scope: "vso.code",
      actor: asUser(formula),
    });
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: "plain",
      scope: "vso.code",
      actor: asUser(s.bob),
    });
    const json = await call(
      "GET",
      `/${s.org.name}/_apis/audit/downloadlog?format=JSON&api-version=7.1-preview.1`,
      admin,
    );
    expect(json.status).toBe(200);
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);
    expect(json.headers.get("content-disposition")).toMatch(/attachment; filename=".*\.json"/);
    expect(Array.isArray(json.json)).toBe(true);
    const downloaded = json.json as unknown as { area: string }[];
    expect(downloaded.filter((e) => e.area === "Token")).toHaveLength(2);
    for (const entry of downloaded) expect(conforms(decoratedEntry, entry)).toBeNull();

    const csv = await call("GET", `/${s.org.name}/_apis/audit/downloadlog?format=csv`, admin);
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const all = csv.text.trimEnd().split("\r\n");
    // The header, then the PAT events (the directory events around them are checked elsewhere).
    const lines = [all[0], ...all.slice(1).filter((l) => l.includes(",Token.PatCreateEvent,"))];
    expect(lines[0]).toBe(
      "Id,CorrelationId,ActivityId,ActorCUID,ActorUserId,ActorUPN,AuthenticationMechanism,Timestamp,ScopeType,ScopeDisplayName,ScopeId,ProjectId,ProjectName,IpAddress,UserAgent,ActionId,Data,Details,Area,Category,CategoryDisplayName,ActorDisplayName",
    );
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(",Token.PatCreateEvent,");
    expect(lines[1]).toContain(",create,Create,");
    // Formula-looking text is defused, quotes are doubled.
    expect(lines[1].endsWith(`,"'=HYPERLINK(""x"")"`)).toBe(true);
    expect(lines[1]).toContain('""with \\""quotes\\"", and a comma""');

    const jsonl = await call("GET", `/${s.org.name}/_apis/audit/downloadlog?format=jsonl`, admin);
    expect(jsonl.headers.get("content-type")).toMatch(/application\/x-ndjson/);
    const events = jsonl.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events[1].prevHash).toBe(events[0].hash);
    const missing = await call("GET", `/${s.org.name}/_apis/audit/downloadlog`, admin);
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(/format must be one of json, csv, jsonl/);
  });

  it("lets a tenant administrator's PAT with vso.auditlog read it (Basic), and nobody else's PAT", async () => {
    const s = await seedTenant(issuer.store, {
      issuer: oidc.issuer,
      audience: oidc.audience,
      jwksUrl: oidc.jwksUrl,
    });
    const pat = async (user: typeof s.admin, scope: string) =>
      (
        await issuer.store.createPat({
          organization: s.org.name,
          displayName: `p ${scope}`,
          scope,
          actor: asUser(user),
        })
      ).token;
    const adminAudit = await pat(s.admin, "vso.auditlog");
    const adminFull = await pat(s.admin, "app_token");
    const adminCode = await pat(s.admin, "vso.code");
    const memberAudit = await pat(s.alice, "vso.auditlog");
    const url = `/${s.org.name}/_apis/audit/auditlog?api-version=7.1-preview.1`;
    const read = await call("GET", url, { auth: basic(adminAudit) });
    expect(read.status, read.text).toBe(200);
    expect(conforms(auditLogQueryResult, read.json)).toBeNull();
    expect((await call("GET", url, { auth: basic(adminFull) })).status).toBe(200);
    const download = await call("GET", `/${s.org.name}/_apis/audit/downloadlog?format=json`, {
      auth: basic(adminAudit),
    });
    expect(download.status).toBe(200);
    const noScope = await call("GET", url, { auth: basic(adminCode) });
    expect(noScope.status).toBe(403);
    expect(noScope.json.message).toMatch(/vso\.auditlog/);
    expect((await call("GET", url, { auth: basic(memberAudit) })).status).toBe(403);
    const wrong = await call("GET", url, { auth: basic(mintAzdo()) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic/);
    expectErrorBody(wrong.json);
    // In another organization the PAT is not valid at all.
    expect(
      (await call("GET", `/${s.otherOrg.name}/_apis/audit/auditlog`, { auth: basic(adminAudit) })).status,
    ).toBe(401);
    // The lifecycle stays closed to PATs, even one with every scope.
    expect(
      (
        await call("GET", `/${s.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`, {
          auth: basic(adminFull),
        })
      ).status,
    ).toBe(401);
  });
});

describe("connectionData through Microsoft's azure-devops-node-api client", () => {
  it("connects with a PAT and reads the identity, location data and the rest of ConnectionData", async () => {
    const { token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "client",
      scope: "vso.profile",
      actor: asUser(t.alice),
    });
    const api = new WebApi(`${base}/${t.org.name}`, getPersonalAccessTokenHandler(token), {
      allowRetries: false,
    });
    const data = await api.connect();
    expect(data.authenticatedUser?.id).toBe(t.alice.id);
    expect(data.authorizedUser?.providerDisplayName).toBe(t.alice.displayName);
    expect(data.authenticatedUser?.descriptor).toBe(
      `Microsoft.IdentityModel.Claims.ClaimsIdentity;${t.tenant.id}\\alice@example.com`,
    );
    expect(data.authenticatedUser?.subjectDescriptor).toMatch(/^aad\.[A-Za-z0-9+/]+$/);
    expect(Buffer.from(String(data.authenticatedUser?.subjectDescriptor).slice(4), "base64").toString()).toBe(
      t.alice.id,
    );
    expect(data.instanceId).toBe(t.org.id);
    expect(data.deploymentId).toBe(t.tenant.id);
    expect(data).toHaveProperty("lastUserAccess");
    expect(data.locationServiceData).toMatchObject({ defaultAccessMappingMoniker: "PublicAccessMapping" });
    expect(data.webApplicationRelativeDirectory).toBe(`/${t.org.name}/`);

    const root = await new WebApi(base, getPersonalAccessTokenHandler(token), {
      allowRetries: false,
    }).connect();
    expect(root.webApplicationRelativeDirectory).toBe("/");

    const refused = new WebApi(`${base}/${t.org.name}`, getPersonalAccessTokenHandler(mintAzdo()), {
      allowRetries: false,
    });
    await expect(refused.connect()).rejects.toMatchObject({ statusCode: 401 });
  });
});

describe("the served OpenAPI document", () => {
  it("names the spec's operation ids and documents real types", async () => {
    const doc = (await call("GET", "/_apis/openapi.json")).json;
    const tokens = readSpec(TOKENS_71) as Record<string, JsonAny>;
    const audit = readSpec(AUDIT_71) as Record<string, JsonAny>;
    const pats = doc.paths["/{organization}/_apis/tokens/pats"];
    expect(pats.post.operationId).toBe(tokens.paths["/{organization}/_apis/tokens/pats"].post.operationId);
    expect(pats.put.operationId).toBe(tokens.paths["/{organization}/_apis/tokens/pats"].put.operationId);
    expect(pats.delete.operationId).toBe(
      tokens.paths["/{organization}/_apis/tokens/pats"].delete.operationId,
    );
    expect(pats.get.operationId).toBe(
      tokens["x-ms-paths"]["/{organization}/_apis/tokens/pats?"].get.operationId,
    );
    expect(doc["x-ms-paths"]["/{organization}/_apis/tokens/pats?authorizationId"].get.operationId).toBe(
      tokens.paths["/{organization}/_apis/tokens/pats"].get.operationId,
    );
    expect(doc.paths["/{organization}/_apis/audit/auditlog"].get.operationId).toBe(
      audit.paths["/{organization}/_apis/audit/auditlog"].get.operationId,
    );
    expect(doc.paths["/{organization}/_apis/audit/downloadlog"].get.operationId).toBe(
      audit.paths["/{organization}/_apis/audit/downloadlog"].get.operationId,
    );
    const param = (name: string) =>
      pats.get.parameters.find((p: { name: string }) => p.name === name).schema as Record<string, unknown>;
    expect(param("$top")).toMatchObject({ type: "integer", format: "int32" });
    expect(param("isSortAscending")).toMatchObject({ type: "boolean" });
    const specList = tokens["x-ms-paths"]["/{organization}/_apis/tokens/pats?"].get.parameters;
    expect(param("displayFilterOption").enum).toEqual(
      specList.find((p: { name: string }) => p.name === "displayFilterOption").enum,
    );
    const createBody = pats.post.requestBody.content["application/json"].schema;
    expect(createBody.properties.validTo).toMatchObject({ type: "string", format: "date-time" });
    expect(createBody.properties.allOrgs).toMatchObject({ type: "boolean" });
    const startTime = doc.paths["/{organization}/_apis/audit/auditlog"].get.parameters.find(
      (p: { name: string }) => p.name === "startTime",
    );
    expect(startTime.schema).toMatchObject({ type: "string", format: "date-time" });
  });
});
