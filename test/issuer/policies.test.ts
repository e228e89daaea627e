import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssuerError } from "../../src/issuer/index.js";
import { ADMIN, asUser, inDays, openTestIssuer, seedTenant, type TestIssuer } from "../support/issuer.js";

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await openTestIssuer();
});
afterAll(async () => {
  await issuer.close();
});

async function refusal(promise: Promise<unknown>): Promise<IssuerError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IssuerError);
  return error as IssuerError;
}

describe("tenant policies", () => {
  it("start with auto-revoke on and every restriction off", async () => {
    const { tenant } = await seedTenant(issuer.store);
    expect(tenant.policies).toEqual({
      autoRevokeLeakedPats: true,
      restrictGlobalPats: false,
      restrictFullScopePats: false,
      maxPatLifespanDays: null,
    });
  });

  it("restrict global PATs, except for the allowlist (users and groups); existing global PATs stay valid", async () => {
    const s = await seedTenant(issuer.store);
    const existing = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "old global",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(s.alice),
    });
    await issuer.store.setTenantPolicies(s.tenant.name, { restrictGlobalPats: true }, ADMIN);

    const error = await refusal(
      issuer.store.createPat({
        organization: s.org.name,
        displayName: "new global",
        scope: "vso.code",
        allOrgs: true,
        actor: asUser(s.alice),
      }),
    );
    expect(error.kind).toBe("policy");
    expect(error.patTokenError).toBe("globalPatPolicyViolation");
    expect(error.message).toMatch(/global/i);
    // An organization-scoped PAT is still fine.
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: "scoped",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    // The existing global PAT still works everywhere.
    expect((await issuer.store.authenticatePat(existing.token, { organization: s.otherOrg.name })).ok).toBe(
      true,
    );
    // ...but cannot be renewed as a global PAT.
    const renewal = await refusal(
      issuer.store.updatePat({
        organization: s.org.name,
        authorizationId: existing.pat.authorizationId,
        validTo: inDays(issuer, 20),
        actor: asUser(s.alice),
      }),
    );
    expect(renewal.patTokenError).toBe("globalPatPolicyViolation");

    // Allowlisted by user.
    await issuer.store.setAllowlist(
      { tenant: s.tenant.name, policy: "restrictGlobalPats" },
      { users: ["alice@example.com"] },
      ADMIN,
    );
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: "allowed global",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(s.alice),
    });
    // Allowlisted by group.
    expect(
      (
        await refusal(
          issuer.store.createPat({
            organization: s.org.name,
            displayName: "g",
            scope: "vso.code",
            allOrgs: true,
            actor: asUser(s.bob),
          }),
        )
      ).patTokenError,
    ).toBe("globalPatPolicyViolation");
    await issuer.store.setUserGroups(s.tenant.name, "bob@example.com", ["Release-Engineers"]);
    await issuer.store.setAllowlist(
      { tenant: s.tenant.name, policy: "restrictGlobalPats" },
      { users: ["alice@example.com"], groups: ["release-engineers"] },
      ADMIN,
    );
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: "g",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(s.bob),
    });
    // Each policy has its own allowlist: being on this one does not exempt from another.
    await issuer.store.setTenantPolicies(s.tenant.name, { restrictFullScopePats: true }, ADMIN);
    expect(
      (
        await refusal(
          issuer.store.createPat({
            organization: s.org.name,
            displayName: "full",
            scope: "app_token",
            actor: asUser(s.alice),
          }),
        )
      ).patTokenError,
    ).toBe("fullScopePatPolicyViolation");
    expect(await issuer.store.getAllowlist({ tenant: s.tenant.name, policy: "restrictGlobalPats" })).toEqual({
      users: ["alice@example.com"],
      groups: ["release-engineers"],
    });
  });

  it("restrict full-scoped PATs (app_token) at creation and on rescoping", async () => {
    const s = await seedTenant(issuer.store);
    const named = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "named",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    await issuer.store.setTenantPolicies(s.tenant.name, { restrictFullScopePats: true }, ADMIN);
    const error = await refusal(
      issuer.store.createPat({
        organization: s.org.name,
        displayName: "full",
        scope: "vso.code app_token",
        actor: asUser(s.alice),
      }),
    );
    expect(error.patTokenError).toBe("fullScopePatPolicyViolation");
    const rescope = await refusal(
      issuer.store.updatePat({
        organization: s.org.name,
        authorizationId: named.pat.authorizationId,
        scope: "app_token",
        actor: asUser(s.alice),
      }),
    );
    expect(rescope.patTokenError).toBe("fullScopePatPolicyViolation");
    await issuer.store.setAllowlist(
      { tenant: s.tenant.name, policy: "restrictFullScopePats" },
      { users: ["alice@example.com"] },
      ADMIN,
    );
    const { pat } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "full",
      scope: "app_token",
      actor: asUser(s.alice),
    });
    expect(pat.scope).toBe("app_token");
  });

  it("maximum lifespan applies at creation and renewal, shortens the default validTo, and spares existing PATs", async () => {
    const s = await seedTenant(issuer.store);
    const long = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "long",
      scope: "vso.code",
      validTo: inDays(issuer, 300),
      actor: asUser(s.alice),
    });
    await issuer.store.setTenantPolicies(s.tenant.name, { maxPatLifespanDays: 7 }, ADMIN);
    const error = await refusal(
      issuer.store.createPat({
        organization: s.org.name,
        displayName: "too long",
        scope: "vso.code",
        validTo: inDays(issuer, 8),
        actor: asUser(s.alice),
      }),
    );
    expect(error.patTokenError).toBe("patLifespanPolicyViolation");
    expect(error.message).toContain("7 days");
    const ok = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "week",
      scope: "vso.code",
      validTo: inDays(issuer, 7),
      actor: asUser(s.alice),
    });
    expect(ok.pat.validTo.getTime()).toBe(inDays(issuer, 7).getTime());
    const defaulted = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "default",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    expect(defaulted.pat.validTo.getTime()).toBe(inDays(issuer, 7).getTime());

    expect((await issuer.store.authenticatePat(long.token)).ok).toBe(true);
    const renewal = await refusal(
      issuer.store.updatePat({
        organization: s.org.name,
        authorizationId: ok.pat.authorizationId,
        validTo: inDays(issuer, 30),
        actor: asUser(s.alice),
      }),
    );
    expect(renewal.patTokenError).toBe("patLifespanPolicyViolation");
    await issuer.store.setAllowlist(
      { tenant: s.tenant.name, policy: "maxPatLifespan" },
      { users: ["alice@example.com"] },
      ADMIN,
    );
    const renewed = await issuer.store.updatePat({
      organization: s.org.name,
      authorizationId: ok.pat.authorizationId,
      validTo: inDays(issuer, 30),
      actor: asUser(s.alice),
    });
    expect(renewed.pat.validTo.getTime()).toBe(inDays(issuer, 30).getTime());

    await issuer.store.setTenantPolicies(s.tenant.name, { maxPatLifespanDays: null }, ADMIN);
    const { rows } = await issuer.store.db.query<{ details: string }>(
      "SELECT details FROM audit_events WHERE tenant_id = $1 AND action_id = 'Policy.PolicyValueUpdated' ORDER BY seq",
      [s.tenant.id],
    );
    expect(rows.map((r) => r.details)).toEqual([
      'Policy "Enforce maximum personal access token lifespan" was changed from Off to 7 days',
      'The allowlist of policy "Enforce maximum personal access token lifespan" was set to 1 user(s) and 0 group(s)',
      'Policy "Enforce maximum personal access token lifespan" was changed from 7 days to Off',
    ]);
  });

  it("refuses bad policy values and unknown allowlist users without changing anything", async () => {
    const s = await seedTenant(issuer.store);
    for (const bad of [
      { maxPatLifespanDays: 0 },
      { maxPatLifespanDays: 1.5 },
      { restrictGlobalPats: "yes" },
      { restrictGlobal: true },
    ]) {
      const error = await refusal(issuer.store.setTenantPolicies(s.tenant.name, bad as never, ADMIN));
      expect(error.kind).toBe("invalid");
    }
    const error = await refusal(
      issuer.store.setAllowlist(
        { tenant: s.tenant.name, policy: "restrictGlobalPats" },
        { users: ["alice@example.com", "nobody@example.com"] },
        ADMIN,
      ),
    );
    expect(error.message).toContain("nobody@example.com");
    expect(await issuer.store.getAllowlist({ tenant: s.tenant.name, policy: "restrictGlobalPats" })).toEqual({
      users: [],
      groups: [],
    });
    expect((await issuer.store.findTenant(s.tenant.name))?.policies).toEqual(s.tenant.policies);
    const { rows } = await issuer.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND area = 'Policy'",
      [s.tenant.id],
    );
    expect(rows[0].n).toBe(0);
  });
});

describe("organization policy: restrict PAT creation", () => {
  it("blocks creation and regeneration for users not on the allowlist", async () => {
    const s = await seedTenant(issuer.store);
    const before = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "before",
      scope: "vso.code",
      actor: asUser(s.bob),
    });
    await issuer.store.setOrganizationPolicies(s.org.name, { restrictPatCreation: true }, ADMIN);
    const error = await refusal(
      issuer.store.createPat({
        organization: s.org.name,
        displayName: "blocked",
        scope: "vso.code",
        actor: asUser(s.bob),
      }),
    );
    expect(error.kind).toBe("policy");
    expect(error.patTokenError).toBe("disablePatCreationPolicyViolation");
    const regenerate = await refusal(
      issuer.store.updatePat({
        organization: s.org.name,
        authorizationId: before.pat.authorizationId,
        regenerate: true,
        actor: asUser(s.bob),
      }),
    );
    expect(regenerate.patTokenError).toBe("disablePatCreationPolicyViolation");
    // The existing organization-scoped PAT keeps working.
    expect((await issuer.store.authenticatePat(before.token, { organization: s.org.name })).ok).toBe(true);
    // The other organization has no such policy.
    await issuer.store.createPat({
      organization: s.otherOrg.name,
      displayName: "elsewhere",
      scope: "vso.code",
      actor: asUser(s.bob),
    });

    await issuer.store.setAllowlist(
      { organization: s.org.name, policy: "restrictPatCreation" },
      { users: ["bob@example.com"] },
      ADMIN,
    );
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: "allowed",
      scope: "vso.code",
      actor: asUser(s.bob),
    });
  });

  it("with the packaging option, still allows organization-scoped packaging-only PATs", async () => {
    const s = await seedTenant(issuer.store);
    await issuer.store.setOrganizationPolicies(
      s.org.name,
      { restrictPatCreation: true, allowPackagingPats: true },
      ADMIN,
    );
    const { pat } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "feed",
      scope: "vso.packaging vso.packaging_write",
      actor: asUser(s.bob),
    });
    expect(pat.scope).toBe("vso.packaging vso.packaging_write");
    const mixed = await refusal(
      issuer.store.createPat({
        organization: s.org.name,
        displayName: "feed and code",
        scope: "vso.packaging vso.code",
        actor: asUser(s.bob),
      }),
    );
    expect(mixed.patTokenError).toBe("disablePatCreationPolicyViolation");
    expect(mixed.message).toMatch(/packaging/);
    const globalPackaging = await refusal(
      issuer.store.createPat({
        organization: s.org.name,
        displayName: "global feed",
        scope: "vso.packaging",
        allOrgs: true,
        actor: asUser(s.bob),
      }),
    );
    expect(globalPackaging.patTokenError).toBe("disablePatCreationPolicyViolation");
    const rescope = await refusal(
      issuer.store.updatePat({
        organization: s.org.name,
        authorizationId: pat.authorizationId,
        scope: "vso.code",
        actor: asUser(s.bob),
      }),
    );
    expect(rescope.patTokenError).toBe("disablePatCreationPolicyViolation");
  });

  it("also blocks using global PATs in that organization for users not on its allowlist", async () => {
    const s = await seedTenant(issuer.store);
    const bobGlobal = await issuer.store.createPat({
      organization: s.otherOrg.name,
      displayName: "bob global",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(s.bob),
    });
    const aliceGlobal = await issuer.store.createPat({
      organization: s.otherOrg.name,
      displayName: "alice global",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(s.alice),
    });
    const bobScoped = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "bob scoped",
      scope: "vso.code",
      actor: asUser(s.bob),
    });
    expect((await issuer.store.authenticatePat(bobGlobal.token, { organization: s.org.name })).ok).toBe(true);

    await issuer.store.setOrganizationPolicies(s.org.name, { restrictPatCreation: true }, ADMIN);
    await issuer.store.setUserGroups(s.tenant.name, "alice@example.com", ["trusted"]);
    await issuer.store.setAllowlist(
      { organization: s.org.name, policy: "restrictPatCreation" },
      { groups: ["trusted"] },
      ADMIN,
    );

    expect(await issuer.store.authenticatePat(bobGlobal.token, { organization: s.org.name })).toEqual({
      ok: false,
      reason: "policyBlocked",
    });
    expect((await issuer.store.authenticatePat(aliceGlobal.token, { organization: s.org.name })).ok).toBe(
      true,
    );
    // Organization-scoped PATs and other organizations are unaffected.
    expect((await issuer.store.authenticatePat(bobScoped.token, { organization: s.org.name })).ok).toBe(true);
    expect((await issuer.store.authenticatePat(bobGlobal.token, { organization: s.otherOrg.name })).ok).toBe(
      true,
    );

    await issuer.store.setOrganizationPolicies(s.org.name, { restrictPatCreation: false }, ADMIN);
    expect((await issuer.store.authenticatePat(bobGlobal.token, { organization: s.org.name })).ok).toBe(true);
  });

  it("takes allowlists only for the policy that belongs to it", async () => {
    const s = await seedTenant(issuer.store);
    expect(
      (
        await refusal(
          issuer.store.setAllowlist({ tenant: s.tenant.name, policy: "restrictPatCreation" }, {}, ADMIN),
        )
      ).kind,
    ).toBe("invalid");
    expect(
      (
        await refusal(
          issuer.store.setAllowlist({ organization: s.org.name, policy: "maxPatLifespan" }, {}, ADMIN),
        )
      ).kind,
    ).toBe("invalid");
    expect(
      (
        await refusal(
          issuer.store.setAllowlist({ tenant: s.tenant.name, policy: "noSuchPolicy" as never }, {}, ADMIN),
        )
      ).message,
    ).toMatch(/unknown policy/);
  });
});
