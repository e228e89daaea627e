/**
 * Property tests of the issuer's REST API (src/issuer/http) on a real store: arbitrary JSON bodies, query
 * strings and path segments on its main routes, with the admin key and without, are answered 2xx or a 4xx
 * carrying the documented error body (Azure DevOps' VssServiceException shape) — never a 500.
 */

import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIssuerServer } from "../../src/issuer/index.js";
import {
  ADMIN_KEY,
  openTestIssuer,
  seedTenant,
  type TestIssuer,
  type TestTenant,
} from "../support/issuer.js";
import { anyJson, failOnUnhandledRejections, fuzzParameters, mangled } from "./fuzz-support.js";

let issuer: TestIssuer;
let app: FastifyInstance;
let s: TestTenant;
let authorizationId: string;

failOnUnhandledRejections();

beforeAll(async () => {
  issuer = await openTestIssuer();
  app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
  s = await seedTenant(issuer.store);
  const created = await app.inject({
    method: "POST",
    url: `/${s.org.name}/_apis/tokens/pats?api-version=7.1-preview.1&user=alice@example.com`,
    headers: { "x-patrol-admin-key": ADMIN_KEY, "content-type": "application/json" },
    payload: { displayName: "fuzzed", scope: "vso.code" },
  });
  expect(created.statusCode, created.body).toBe(200);
  authorizationId = created.json().patToken.authorizationId;
});
afterAll(async () => {
  await app?.close();
  await issuer?.close();
});

/** A route, its method, and a well-formed body to break (when it takes one). */
interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: (p: { org: string; tenant: string; id: string; email: string }) => string;
  body?: () => Record<string, unknown>;
}

const ROUTES: Route[] = [
  {
    method: "POST",
    path: (p) => `/${p.org}/_apis/tokens/pats`,
    body: () => ({
      displayName: "x",
      scope: "vso.code",
      validTo: new Date(Date.now() + 86_400_000).toISOString(),
      allOrgs: false,
    }),
  },
  { method: "GET", path: (p) => `/${p.org}/_apis/tokens/pats` },
  {
    method: "PUT",
    path: (p) => `/${p.org}/_apis/tokens/pats`,
    body: () => ({ authorizationId, displayName: "renamed", scope: "vso.code", allOrgs: false }),
  },
  { method: "DELETE", path: (p) => `/${p.org}/_apis/tokens/pats` },
  { method: "GET", path: (p) => `/${p.org}/_apis/connectionData` },
  { method: "GET", path: () => "/_apis/connectionData" },
  { method: "GET", path: (p) => `/${p.org}/_apis/audit/auditlog` },
  { method: "GET", path: (p) => `/${p.org}/_apis/audit/downloadlog` },
  { method: "POST", path: () => "/_apis/patrol/tenants", body: () => ({ name: "fuzz-tenant" }) },
  { method: "GET", path: (p) => `/_apis/patrol/tenants/${p.tenant}` },
  {
    method: "PATCH",
    path: (p) => `/_apis/patrol/tenants/${p.tenant}/policies`,
    body: () => ({ autoRevokeLeakedPats: true, maxPatLifespanDays: 30 }),
  },
  {
    method: "POST",
    path: (p) => `/_apis/patrol/tenants/${p.tenant}/organizations`,
    body: () => ({ name: "fuzz-org" }),
  },
  {
    method: "POST",
    path: (p) => `/_apis/patrol/tenants/${p.tenant}/users`,
    body: () => ({ email: "f@example.com", displayName: "F" }),
  },
  { method: "GET", path: (p) => `/_apis/patrol/tenants/${p.tenant}/users/${p.email}` },
  { method: "GET", path: (p) => `/_apis/patrol/tenants/${p.tenant}/policies` },
  { method: "GET", path: (p) => `/_apis/patrol/organizations/${p.org}/policies` },
  {
    method: "PATCH",
    path: (p) => `/_apis/patrol/tenants/${p.tenant}/users/${p.email}`,
    body: () => ({ status: "active" }),
  },
  {
    method: "PATCH",
    path: (p) => `/_apis/patrol/tenants/${p.tenant}/oidc`,
    body: () => ({ issuer: "https://idp.example", audience: "a", jwksUrl: "https://idp.example/jwks" }),
  },
  {
    method: "PUT",
    path: (p) => `/_apis/patrol/tenants/${p.tenant}/policies/restrictGlobalPats/allowlist`,
    body: () => ({ users: [], groups: [] }),
  },
  {
    method: "PATCH",
    path: (p) => `/_apis/patrol/organizations/${p.org}/policies`,
    body: () => ({ restrictPatCreation: false }),
  },
  { method: "POST", path: (p) => `/_apis/patrol/pats/${p.id}/revoke`, body: () => ({ reason: "fuzz" }) },
  { method: "GET", path: (p) => `/_apis/patrol/tenants/${p.tenant}/audit/export` },
  { method: "GET", path: (p) => `/_apis/patrol/tenants/${p.tenant}/audit/verify` },
  { method: "GET", path: () => "/_apis/patrol/incidents" },
  { method: "GET", path: (p) => `/_apis/patrol/incidents/${p.id}` },
];

/**
 * Path segments: the real names, or text of any kind, percent-encoded so it stays one segment. Not `.` or
 * `..`, even encoded: URL parsing resolves them away, the path then names no route, and Fastify's own 404
 * answers (a clear 4xx, but not the issuer's error body).
 */
const segment = (real: () => string) =>
  fc
    .oneof(
      { weight: 3, arbitrary: fc.constant(null) },
      fc.string({ maxLength: 40 }).filter((v) => v !== "." && v !== ".."),
    )
    .map((v) => (v === null ? real() : encodeURIComponent(v)));

const query = fc
  .dictionary(
    fc.oneof(
      fc.constantFrom(
        "api-version",
        "authorizationId",
        "user",
        "tenant",
        "startTime",
        "endTime",
        "batchSize",
        "continuationToken",
        "displayFilterOption",
        "sortByOption",
        "isSortAscending",
        "state",
        "skipAggregation",
      ),
      fc.string({ maxLength: 10 }),
    ),
    fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom("7.1-preview.1", "-1", "1e309", "true", "", "alice@example.com"),
    ),
    { maxKeys: 4 },
  )
  .map((q) => new URLSearchParams(q).toString());

const request = fc.record({
  route: fc.constantFrom(...ROUTES),
  org: segment(() => s.org.name),
  tenant: segment(() => s.tenant.name),
  id: segment(() => authorizationId),
  email: segment(() => "alice@example.com"),
  query,
  auth: fc.constantFrom("admin-header", "admin-bearer", "none", "wrong", "basic-garbage"),
  bodyKind: fc.constantFrom("mangled", "any", "text", "none"),
  seed: fc.integer(),
});

const AUTH: Record<string, Record<string, string>> = {
  "admin-header": { "x-patrol-admin-key": ADMIN_KEY },
  "admin-bearer": { authorization: `Bearer ${ADMIN_KEY}` },
  none: {},
  wrong: { "x-patrol-admin-key": `${ADMIN_KEY}x` },
  "basic-garbage": { authorization: "Basic !!!not base64" },
};

function expectDocumentedAnswer(status: number, body: string, what: string): void {
  expect(status, `${what} → ${body}`).toBeLessThan(500);
  if (status < 400) return;
  const error = JSON.parse(body);
  expect(error, what).toMatchObject({ $id: "1", innerException: null, errorCode: 0, eventId: 3000 });
  expect(typeof error.message, what).toBe("string");
  expect(error.message.length, what).toBeGreaterThan(3);
  expect(error.typeKey, what).toMatch(/^[A-Za-z]+Exception$/);
}

describe("the issuer API under arbitrary input", () => {
  it("answers every main route 2xx or a documented 4xx, whatever the body, query, path and credentials", async () => {
    const bodies = new Map<Route, fc.Arbitrary<unknown>>();
    for (const route of ROUTES) if (route.body) bodies.set(route, mangled(route.body()));
    await fc.assert(
      fc.asyncProperty(request, anyJson, fc.string({ maxLength: 60 }), async (r, json, text) => {
        const url = `${r.route.path(r)}?${r.query}`;
        let payload: string | undefined;
        const headers: Record<string, string> = { ...AUTH[r.auth] };
        if (r.bodyKind !== "none" && r.route.method !== "GET") {
          const mangledBody = bodies.get(r.route);
          payload =
            r.bodyKind === "text"
              ? text
              : (JSON.stringify(
                  r.bodyKind === "mangled" && mangledBody
                    ? fc.sample(mangledBody, { numRuns: 1, seed: r.seed })[0]
                    : json,
                ) ?? "null");
          headers["content-type"] = "application/json";
        }
        const response = await app.inject({ method: r.route.method, url, headers, payload });
        expectDocumentedAnswer(
          response.statusCode,
          response.body,
          `${r.route.method} ${url} ${payload ?? ""}`,
        );
      }),
      fuzzParameters(300),
    );
    // Nothing above reached the error handler's 500 branch.
    expect(issuer.logs.filter((l) => l.includes("issuer request failed"))).toEqual([]);
  });

  it("lets no anonymous caller in: every main route answers 401 without credentials, or with a wrong key", async () => {
    const names = { org: s.org.name, tenant: s.tenant.name, id: authorizationId, email: "alice@example.com" };
    for (const route of ROUTES)
      for (const headers of [{}, AUTH.wrong, { authorization: `Bearer ${ADMIN_KEY.slice(0, -1)}` }]) {
        const response = await app.inject({
          method: route.method,
          url: `${route.path(names)}?api-version=7.1-preview.1&authorizationId=${authorizationId}&format=json`,
          headers: { ...headers, ...(route.body ? { "content-type": "application/json" } : {}) },
          payload: route.body ? JSON.stringify(route.body()) : undefined,
        });
        expect(response.statusCode, `${route.method} ${route.path(names)}`).toBe(401);
        expectDocumentedAnswer(response.statusCode, response.body, route.method);
      }
  });

  it("answers any Basic credential with a documented 401 (400 or 429 at worst), never 500", async () => {
    const credential = fc.oneof(
      fc.string({ maxLength: 120 }).map((t) => Buffer.from(`user:${t}`).toString("base64")),
      fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString("base64")),
      fc.string({ maxLength: 60 }).filter((t) => /^[\x21-\x7e]*$/.test(t)),
    );
    await fc.assert(
      fc.asyncProperty(credential, async (c) => {
        const response = await app.inject({
          method: "GET",
          url: `/${s.org.name}/_apis/connectionData`,
          headers: { authorization: `Basic ${c}` },
        });
        expect([401, 400, 429]).toContain(response.statusCode);
        expectDocumentedAnswer(response.statusCode, response.body, c);
      }),
      fuzzParameters(150),
    );
  });
});
