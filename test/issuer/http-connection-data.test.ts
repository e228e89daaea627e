import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIssuerServer, IssuerStore } from "../../src/issuer/index.js";
import { mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import {
  ADMIN,
  asUser,
  inDays,
  openTestIssuer,
  seedTenant,
  type TestIssuer,
  type TestTenant,
} from "../support/issuer.js";

let issuer: TestIssuer;
let app: FastifyInstance;
let t: TestTenant;

beforeAll(async () => {
  issuer = await openTestIssuer();
  t = await seedTenant(issuer.store);
  app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
});
afterAll(async () => {
  await app.close();
  await issuer.close();
});

const basic = (token: string, user = "") => `Basic ${Buffer.from(`${user}:${token}`).toString("base64")}`;

function connectionData(token: string | null, org?: string, remoteAddress = "127.0.0.1") {
  return app.inject({
    method: "GET",
    url: org ? `/${org}/_apis/connectionData` : "/_apis/connectionData",
    headers: token === null ? {} : { authorization: basic(token, "anything") },
    remoteAddress,
  });
}

describe("PAT authentication (GET /_apis/connectionData)", () => {
  it("answers 200 with the identity for a valid PAT, at the root and in its organization", async () => {
    const { token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "cli",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    for (const org of [undefined, t.org.name, t.org.name.toUpperCase()]) {
      const response = await connectionData(token, org);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json();
      expect(body.authenticatedUser).toMatchObject({
        id: t.alice.id,
        providerDisplayName: "Alice A",
        isActive: true,
        properties: { Account: { $value: "alice@example.com" } },
      });
      expect(body.authorizedUser.id).toBe(t.alice.id);
      expect(body.instanceId).toBe(org ? t.org.id : t.tenant.id);
    }
    // Any user name works; an empty one too; no colon at all is read as just the PAT.
    const bare = await app.inject({
      method: "GET",
      url: "/_apis/connectionData",
      headers: { authorization: `Basic ${Buffer.from(token).toString("base64")}` },
    });
    expect(bare.statusCode).toBe(200);
  });

  it("answers 401 for unknown, malformed, revoked, expired, disabled-user, wrong-organization and policy-blocked PATs", async () => {
    const s = await seedTenant(issuer.store);
    const other = await seedTenant(issuer.store);
    const make = (displayName: string, extra: object = {}) =>
      issuer.store.createPat({
        organization: s.org.name,
        displayName,
        scope: "vso.code",
        actor: asUser(s.alice),
        ...extra,
      });
    const revoked = await make("revoked");
    await issuer.store.revokePat({
      organization: s.org.name,
      authorizationId: revoked.pat.authorizationId,
      actor: asUser(s.alice),
    });
    const expiring = await make("expiring", { validTo: inDays(issuer, 1) });
    const scoped = await make("scoped");
    const global = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "global",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(s.bob),
    });
    const bobs = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "bob",
      scope: "vso.code",
      actor: asUser(s.bob),
    });

    const cases: [string, string, string | undefined][] = [
      ["unknown", mintAzdo(), undefined],
      ["unknown legacy", mintLegacy(), undefined],
      ["malformed", "definitely-not-a-pat", undefined],
      ["revoked", revoked.token, undefined],
      ["wrong organization (another org of the tenant)", scoped.token, s.otherOrg.name],
      ["wrong organization (another tenant, even for a global PAT)", global.token, other.org.name],
      ["unknown organization", scoped.token, "no-such-org"],
    ];
    for (const [name, token, org] of cases) {
      const response = await connectionData(token, org);
      expect(response.statusCode, name).toBe(401);
      expect(response.headers["www-authenticate"]).toMatch(/^Basic/);
      expect(response.body).not.toContain(s.alice.id);
    }

    // Expired: refused as soon as validTo passes, before any sweep.
    expect((await connectionData(expiring.token)).statusCode).toBe(200);
    issuer.clock.advance(86_400_000 + 1);
    expect((await connectionData(expiring.token)).statusCode).toBe(401);

    // Disabled user: all their PATs fail at once.
    expect((await connectionData(bobs.token)).statusCode).toBe(200);
    await issuer.store.setUserStatus(s.tenant.name, "bob@example.com", "disabled");
    expect((await connectionData(bobs.token)).statusCode).toBe(401);
    expect((await connectionData(global.token, s.otherOrg.name)).statusCode).toBe(401);
    await issuer.store.setUserStatus(s.tenant.name, "bob@example.com", "active");

    // Policy-blocked: a global PAT in an organization that restricts PAT creation, for users not allowlisted.
    expect((await connectionData(global.token, s.otherOrg.name)).statusCode).toBe(200);
    await issuer.store.setOrganizationPolicies(s.otherOrg.name, { restrictPatCreation: true }, ADMIN);
    expect((await connectionData(global.token, s.otherOrg.name)).statusCode).toBe(401);
    expect((await connectionData(global.token, s.org.name)).statusCode).toBe(200);

    // The log says why; the client is not told.
    const reasons = issuer.logs
      .filter((l) => l.includes("PAT authentication failed"))
      .map((l) => JSON.parse(l).reason as string);
    expect(new Set(reasons)).toEqual(
      new Set([
        "unknown",
        "malformed",
        "revoked",
        "wrongOrganization",
        "unknownOrganization",
        "expired",
        "userDisabled",
        "policyBlocked",
      ]),
    );
  });

  it("answers 401 with a Basic challenge when no PAT is sent, and refuses bearer tokens", async () => {
    const none = await connectionData(null);
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Basic realm="patrol"');
    const bearer = await app.inject({
      method: "GET",
      url: "/_apis/connectionData",
      headers: { authorization: "Bearer something" },
    });
    expect(bearer.statusCode).toBe(401);
  });

  it("throttles failed attempts per client address with 429 and Retry-After, over a real socket", async () => {
    const config = {
      ...issuer.config,
      auth: { ...issuer.config.auth, failureLimit: 3, failureWindowSeconds: 60 },
    };
    const store = new IssuerStore({ db: issuer.store.db, logger: issuer.logger, config });
    const server = await buildIssuerServer({ store, config, logger: issuer.logger });
    await server.listen({ port: 0, host: "127.0.0.1" });
    const { port } = server.server.address() as AddressInfo;
    const { token: good } = await store.createPat({
      organization: t.org.name,
      displayName: "good",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    const get = (token: string) =>
      fetch(`http://127.0.0.1:${port}/_apis/connectionData`, { headers: { authorization: basic(token) } });
    try {
      expect((await get(good)).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await get(mintAzdo())).status).toBe(401);
      const blocked = await get(mintAzdo());
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
      // Once blocked, even a good PAT waits: the check comes before any lookup.
      expect((await get(good)).status).toBe(429);
      // Bad PATs do not lock administrators out from the same address: admin-key and sign-in failures
      // have their own count.
      const lifecycle = (authorization: string) =>
        fetch(`http://127.0.0.1:${port}/${t.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`, {
          headers: { authorization },
        });
      expect((await lifecycle(`Bearer ${issuer.config.auth.adminKey}`)).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await lifecycle("Bearer wrong")).status).toBe(401);
      expect((await lifecycle(`Bearer ${issuer.config.auth.adminKey}`)).status).toBe(429);
      // ... and the PAT count is still its own.
      expect((await get(good)).status).toBe(429);
      // Another client address is not affected: the throttle is per client.
      const elsewhere = await server.inject({
        method: "GET",
        url: "/_apis/connectionData",
        headers: { authorization: basic(good) },
        remoteAddress: "127.0.0.9",
      });
      expect(elsewhere.statusCode).toBe(200);
    } finally {
      await server.close();
    }
  });
});
