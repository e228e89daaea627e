/**
 * PAT authentication at the store, one condition at a time and at its edges: the exact instant a PAT expires
 * or becomes valid, the shapes refused before any lookup, organizations by name in any case, a same-named
 * organization of another tenant, and the organization policy's allowlist by user as well as by group.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { ADMIN, asUser, inDays, openTestIssuer, seedTenant, type TestIssuer } from "../support/issuer.js";

describe("authenticatePat", () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await openTestIssuer();
  });
  afterAll(async () => {
    await issuer.close();
  });

  it("returns the whole identity of a good PAT", async () => {
    const s = await seedTenant(issuer.store);
    const { pat, token } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "ci deploy",
      scope: "vso.code vso.build",
      actor: asUser(s.alice),
    });
    const result = await issuer.store.authenticatePat(token, { organization: s.org.name });
    expect(result).toEqual({
      ok: true,
      identity: {
        user: expect.objectContaining({ id: s.alice.id, email: "alice@example.com", status: "active" }),
        pat: {
          authorizationId: pat.authorizationId,
          displayName: "ci deploy",
          scope: "vso.code vso.build",
          allOrgs: false,
        },
        tenant: { id: s.tenant.id, name: s.tenant.name },
        organization: { id: s.org.id, name: s.org.name },
      },
    });
    // Without an organization (connectionData at the root) there is none in the identity.
    const root = await issuer.store.authenticatePat(token);
    expect(root.ok && root.identity.organization).toBeNull();
  });

  it("refuses malformed input before any lookup: wrong shapes, a bad checksum, over 128 characters", async () => {
    const key = mintAzdo();
    const badChecksum = `${key.slice(0, 80)}${key[80] === "A" ? "B" : "A"}${key.slice(81)}`;
    for (const token of [
      "",
      "x",
      badChecksum,
      `${key}x`,
      key.slice(0, 83),
      "a".repeat(129),
      `${key}${"=".repeat(45)}`,
    ]) {
      expect(await issuer.store.authenticatePat(token), JSON.stringify(token.slice(0, 20))).toEqual({
        ok: false,
        reason: "malformed",
      });
    }
    // Well-formed tokens that were never issued are unknown, not malformed.
    for (const token of [mintAzdo(), mintAzdo({ long: true }), mintLegacy()]) {
      expect(await issuer.store.authenticatePat(token)).toEqual({ ok: false, reason: "unknown" });
    }
  });

  it("expires at the exact instant validTo is reached, and is not valid before validFrom", async () => {
    const s = await seedTenant(issuer.store);
    const validTo = inDays(issuer, 2);
    const { token } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "short lived",
      scope: "vso.code",
      validTo,
      actor: asUser(s.bob),
    });
    const createdAt = issuer.clock.now();
    issuer.clock.set(new Date(validTo.getTime() - 1));
    expect((await issuer.store.authenticatePat(token)).ok).toBe(true);
    issuer.clock.set(validTo);
    expect(await issuer.store.authenticatePat(token)).toEqual({ ok: false, reason: "expired" });
    // Before it was created (a clock set back): not yet valid; at the instant of creation: valid.
    issuer.clock.set(new Date(createdAt.getTime() - 1));
    expect(await issuer.store.authenticatePat(token)).toEqual({ ok: false, reason: "notYetValid" });
    issuer.clock.set(createdAt);
    expect((await issuer.store.authenticatePat(token)).ok).toBe(true);
  });

  it("finds the organization by name in any case; refuses unknown ones and another tenant's", async () => {
    const s = await seedTenant(issuer.store);
    const other = await seedTenant(issuer.store);
    const { token } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "global",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(s.alice),
    });
    const upper = await issuer.store.authenticatePat(token, { organization: s.org.name.toUpperCase() });
    expect(upper.ok && upper.identity.organization).toEqual({ id: s.org.id, name: s.org.name });
    expect((await issuer.store.authenticatePat(token, { organization: s.otherOrg.name })).ok).toBe(true);
    expect(await issuer.store.authenticatePat(token, { organization: "no-such-org" })).toEqual({
      ok: false,
      reason: "unknownOrganization",
    });
    // A global PAT is global within its own tenant only.
    expect(await issuer.store.authenticatePat(token, { organization: other.org.name })).toEqual({
      ok: false,
      reason: "wrongOrganization",
    });
  });

  it("the organization policy blocks global PATs except for users on its allowlist, by user or by group", async () => {
    const s = await seedTenant(issuer.store);
    const global = async (user: typeof s.alice) =>
      (
        await issuer.store.createPat({
          organization: s.org.name,
          displayName: "global",
          scope: "vso.code",
          allOrgs: true,
          actor: asUser(user),
        })
      ).token;
    const alice = await global(s.alice);
    const bob = await global(s.bob);
    const admin = await global(s.admin);
    await issuer.store.setOrganizationPolicies(s.org.name, { restrictPatCreation: true }, ADMIN);
    await issuer.store.setUserGroups(s.tenant.name, "admin@example.com", ["ops"]);
    await issuer.store.setAllowlist(
      { organization: s.org.name, policy: "restrictPatCreation" },
      { users: ["alice@example.com"], groups: ["ops"] },
      ADMIN,
    );
    const at = (token: string) => issuer.store.authenticatePat(token, { organization: s.org.name });
    expect((await at(alice)).ok).toBe(true);
    expect((await at(admin)).ok).toBe(true);
    expect(await at(bob)).toEqual({ ok: false, reason: "policyBlocked" });
    // Outside that organization, and without naming one, the policy does not apply.
    expect((await issuer.store.authenticatePat(bob, { organization: s.otherOrg.name })).ok).toBe(true);
    expect((await issuer.store.authenticatePat(bob)).ok).toBe(true);
  });

  it("a disabled owner fails at once and works again when enabled", async () => {
    const s = await seedTenant(issuer.store);
    const { token } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "owner",
      scope: "vso.code",
      actor: asUser(s.bob),
    });
    await issuer.store.setUserStatus(s.tenant.name, "bob@example.com", "disabled");
    expect(await issuer.store.authenticatePat(token, { organization: s.org.name })).toEqual({
      ok: false,
      reason: "userDisabled",
    });
    await issuer.store.setUserStatus(s.tenant.name, "bob@example.com", "active");
    expect((await issuer.store.authenticatePat(token, { organization: s.org.name })).ok).toBe(true);
  });

  it("a PAT for one organization is refused at another organization of the same tenant", async () => {
    const s = await seedTenant(issuer.store);
    const { token } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "one org",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    expect((await issuer.store.authenticatePat(token, { organization: s.org.name })).ok).toBe(true);
    expect(await issuer.store.authenticatePat(token, { organization: s.otherOrg.name })).toEqual({
      ok: false,
      reason: "wrongOrganization",
    });
  });

  it("revoked and swept-expired PATs fail by their stored status, whatever the clock says", async () => {
    const s = await seedTenant(issuer.store);
    const revoked = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "revoked",
      scope: "vso.code",
      validTo: inDays(issuer, 30),
      actor: asUser(s.alice),
    });
    await issuer.store.revokePat({
      organization: s.org.name,
      authorizationId: revoked.pat.authorizationId,
      actor: asUser(s.alice),
    });
    expect(await issuer.store.authenticatePat(revoked.token)).toEqual({ ok: false, reason: "revoked" });

    const validTo = inDays(issuer, 1);
    const expiring = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "expiring",
      scope: "vso.code",
      validTo,
      actor: asUser(s.alice),
    });
    const createdAt = issuer.clock.now();
    issuer.clock.set(new Date(validTo.getTime() + 1000));
    expect((await issuer.store.expireDuePats()).expired).toBeGreaterThanOrEqual(1);
    // The clock set back inside the validity window: the sweep's verdict stands.
    issuer.clock.set(new Date(createdAt.getTime() + 1000));
    expect(await issuer.store.authenticatePat(expiring.token)).toEqual({ ok: false, reason: "expired" });
  });
});
