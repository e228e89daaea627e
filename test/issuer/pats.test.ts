import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IssuerError } from "../../src/issuer/index.js";
import { fingerprint, isWellFormed, mintAzdo } from "../../src/tokens/index.js";
import { MEANINGFUL_ON_POSTGRES } from "../support/database.js";
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
let t: TestTenant;

beforeAll(async () => {
  issuer = await openTestIssuer();
  t = await seedTenant(issuer.store);
});
afterAll(async () => {
  await issuer.close();
});

async function counts() {
  const { rows } = await issuer.store.db.query<{ pats: number; events: number }>(
    "SELECT (SELECT count(*)::int FROM pats) AS pats, (SELECT count(*)::int FROM audit_events) AS events",
  );
  return rows[0];
}

async function expectIssuerError(
  promise: Promise<unknown>,
  kind: IssuerError["kind"],
  patTokenError?: string,
) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IssuerError);
  expect((error as IssuerError).kind).toBe(kind);
  if (patTokenError) expect((error as IssuerError).patTokenError).toBe(patTokenError);
  return error as IssuerError;
}

describe("creating a PAT", () => {
  it("returns a well-formed token once and stores only its fingerprint", async () => {
    const { pat, token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "ci build",
      scope: "vso.code  vso.build vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    expect(isWellFormed(token)).toBe(true);
    expect(token).toHaveLength(84);
    expect(pat.fingerprint).toBe(fingerprint(token));
    expect(pat.scope).toBe("vso.code vso.build");
    expect(pat.status).toBe("active");
    expect(pat.format).toBe("azdo-pat");
    expect(pat.userId).toBe(t.alice.id);
    expect(pat.organizationId).toBe(t.org.id);
    expect(pat.allOrgs).toBe(false);
    expect(pat.validFrom.getTime()).toBe(issuer.clock.now().getTime());

    const { rows } = await issuer.store.db.query<Record<string, unknown>>(
      "SELECT * FROM pats WHERE authorization_id = $1",
      [pat.authorizationId],
    );
    expect(rows).toHaveLength(1);
    expect(Object.values(rows[0]).map(String)).not.toContain(token);
    expect(rows[0].fingerprint).toBe(fingerprint(token));

    const auth = await issuer.store.authenticatePat(token, { organization: t.org.name });
    expect(auth.ok).toBe(true);
    if (auth.ok) {
      expect(auth.identity.user.email).toBe("alice@example.com");
      expect(auth.identity.pat.authorizationId).toBe(pat.authorizationId);
      expect(auth.identity.organization?.id).toBe(t.org.id);
    }
  });

  it("defaults validTo to 30 days", async () => {
    const { pat } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "default lifetime",
      scope: "vso.work",
      actor: asUser(t.alice),
    });
    expect(pat.validTo.getTime()).toBe(inDays(issuer, 30).getTime());
  });

  it("lets an administrator create a PAT for a user, and refuses members acting for others", async () => {
    const { pat } = await issuer.store.createPat({
      organization: t.org.name,
      owner: "bob@example.com",
      displayName: "made by admin",
      scope: "vso.packaging",
      actor: ADMIN,
    });
    expect(pat.userId).toBe(t.bob.id);
    await expectIssuerError(
      issuer.store.createPat({
        organization: t.org.name,
        owner: "bob@example.com",
        displayName: "not mine",
        scope: "vso.code",
        actor: asUser(t.alice),
      }),
      "forbidden",
      "accessDenied",
    );
    await expectIssuerError(
      issuer.store.createPat({ organization: t.org.name, displayName: "x", scope: "vso.code", actor: ADMIN }),
      "invalid",
      "invalidUserId",
    );
  });

  it.each([
    [{ displayName: "" }, "displayNameRequired"],
    [{ displayName: "   " }, "displayNameRequired"],
    [{ displayName: "x".repeat(257) }, "invalidDisplayName"],
    [{ displayName: "tab\there" }, "invalidDisplayName"],
    [{ displayName: `my token ${mintAzdo()}` }, "invalidDisplayName"],
    [{ scope: "vso.code vso.nonsense" }, "invalidScope"],
    [{ scope: "" }, "invalidScope"],
    [{ scope: 42 }, "invalidScope"],
    [{ validTo: "yesterday-ish" }, "invalidValidTo"],
    [{ validTo: new Date(Date.now() - 60_000) }, "invalidValidTo"],
    [{ validTo: new Date(Date.now() + 400 * 86_400_000) }, "invalidValidTo"],
  ] as const)("rejects bad input %j with %s and changes nothing", async (override, code) => {
    const before = await counts();
    const error = await expectIssuerError(
      issuer.store.createPat({
        organization: t.org.name,
        displayName: "fine",
        scope: "vso.code",
        validTo: inDays(issuer, 5),
        actor: asUser(t.alice),
        ...(override as object),
      }),
      "invalid",
      code,
    );
    expect(error.message.length).toBeGreaterThan(5);
    expect(await counts()).toEqual(before);
  });

  it("names unknown scopes in the error", async () => {
    const error = await expectIssuerError(
      issuer.store.createPat({
        organization: t.org.name,
        displayName: "x",
        scope: "vso.code vso.bogus",
        actor: asUser(t.alice),
      }),
      "invalid",
      "invalidScope",
    );
    expect(error.message).toContain("vso.bogus");
  });

  it("rejects an unknown organization and a user of another tenant", async () => {
    await expectIssuerError(
      issuer.store.createPat({
        organization: "no-such-org",
        displayName: "x",
        scope: "vso.code",
        actor: asUser(t.alice),
      }),
      "notFound",
    );
    const other = await seedTenant(issuer.store);
    await expectIssuerError(
      issuer.store.createPat({
        organization: t.org.name,
        displayName: "x",
        scope: "vso.code",
        actor: asUser(other.alice),
      }),
      "forbidden",
      "accessDenied",
    );
  });
});

describe("listing and getting PATs", () => {
  it("pages with a continuation token, shows only the caller's PATs, and hides other users' PATs", async () => {
    const listed = await seedTenant(issuer.store);
    for (let i = 0; i < 5; i++) {
      await issuer.store.createPat({
        organization: listed.org.name,
        displayName: `pat ${i}`,
        scope: "vso.code",
        actor: asUser(listed.alice),
      });
      issuer.clock.advance(1000);
    }
    const bobs = await issuer.store.createPat({
      organization: listed.org.name,
      displayName: "bob's",
      scope: "vso.code",
      actor: asUser(listed.bob),
    });
    const seen: string[] = [];
    let continuationToken: string | undefined;
    let pages = 0;
    do {
      const page = await issuer.store.listPats({
        organization: listed.org.name,
        actor: asUser(listed.alice),
        top: 2,
        continuationToken,
      });
      expect(page.pats.length).toBeLessThanOrEqual(2);
      seen.push(...page.pats.map((p) => p.displayName));
      continuationToken = page.continuationToken ?? undefined;
      pages++;
    } while (continuationToken);
    expect(pages).toBe(3);
    expect(seen).toEqual(["pat 0", "pat 1", "pat 2", "pat 3", "pat 4"]);

    const byName = await issuer.store.listPats({
      organization: listed.org.name,
      actor: asUser(listed.alice),
      sortBy: "displayName",
      ascending: false,
    });
    expect(byName.pats.map((p) => p.displayName)).toEqual(["pat 4", "pat 3", "pat 2", "pat 1", "pat 0"]);

    // An administrator sees everyone's; a member asking for another user is refused.
    const all = await issuer.store.listPats({ organization: listed.org.name, actor: ADMIN });
    expect(all.pats.map((p) => p.displayName)).toContain("bob's");
    await expectIssuerError(
      issuer.store.listPats({
        organization: listed.org.name,
        actor: asUser(listed.alice),
        owner: "bob@example.com",
      }),
      "forbidden",
    );
    await expectIssuerError(
      issuer.store.getPat({
        organization: listed.org.name,
        authorizationId: bobs.pat.authorizationId,
        actor: asUser(listed.alice),
      }),
      "notFound",
      "authorizationNotFound",
    );
    const got = await issuer.store.getPat({
      organization: listed.org.name,
      authorizationId: bobs.pat.authorizationId,
      actor: asUser(listed.admin),
    });
    expect(got.displayName).toBe("bob's");

    // A continuation token only continues the list it came from.
    const first = await issuer.store.listPats({
      organization: listed.org.name,
      actor: asUser(listed.alice),
      top: 2,
    });
    await expectIssuerError(
      issuer.store.listPats({
        organization: listed.org.name,
        actor: asUser(listed.alice),
        top: 2,
        sortBy: "status",
        continuationToken: first.continuationToken ?? "",
      }),
      "invalid",
    );
    await expectIssuerError(
      issuer.store.listPats({
        organization: listed.org.name,
        actor: asUser(listed.alice),
        continuationToken: "garbage",
      }),
      "invalid",
    );
  });

  it("filters by status", async () => {
    const s = await seedTenant(issuer.store);
    const keep = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "keep",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    const gone = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "gone",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    await issuer.store.revokePat({
      organization: s.org.name,
      authorizationId: gone.pat.authorizationId,
      actor: asUser(s.alice),
    });
    const names = async (filter: "active" | "revoked" | "expired" | "all") =>
      (await issuer.store.listPats({ organization: s.org.name, actor: asUser(s.alice), filter })).pats
        .map((p) => p.displayName)
        .sort();
    expect(await names("active")).toEqual(["keep"]);
    expect(await names("revoked")).toEqual(["gone"]);
    expect(await names("all")).toEqual(["gone", "keep"]);
    expect(await names("expired")).toEqual([]);
    expect(keep.pat.status).toBe("active");
  });
});

describe("updating a PAT", () => {
  it("renames, rescopes and renews in place, recording what changed", async () => {
    const { pat, token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "before",
      scope: "vso.code",
      validTo: inDays(issuer, 5),
      actor: asUser(t.alice),
    });
    const updated = await issuer.store.updatePat({
      organization: t.org.name,
      authorizationId: pat.authorizationId,
      displayName: "after",
      scope: "vso.code_write vso.build",
      validTo: inDays(issuer, 20),
      actor: asUser(t.alice),
    });
    expect(updated.token).toBeNull();
    expect(updated.pat.authorizationId).toBe(pat.authorizationId);
    expect(updated.pat.displayName).toBe("after");
    expect(updated.pat.scope).toBe("vso.code_write vso.build");
    expect(updated.pat.validTo.getTime()).toBe(inDays(issuer, 20).getTime());
    expect(updated.pat.fingerprint).toBe(pat.fingerprint);
    expect((await issuer.store.authenticatePat(token)).ok).toBe(true);

    const { rows } = await issuer.store.db.query<{ data: Record<string, unknown> }>(
      "SELECT data FROM audit_events WHERE action_id = 'Token.PatUpdateEvent' AND data ->> 'authorizationId' = $1",
      [pat.authorizationId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].data.changed).toBe("displayName, scope, validTo");
  });

  it("regenerates: a new secret for the same authorization id, and the old secret is dead at once", async () => {
    const { pat, token: oldToken } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "to regenerate",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    const { pat: after, token: newToken } = await issuer.store.updatePat({
      organization: t.org.name,
      authorizationId: pat.authorizationId,
      regenerate: true,
      actor: asUser(t.alice),
    });
    expect(newToken).not.toBeNull();
    expect(newToken).not.toBe(oldToken);
    expect(isWellFormed(newToken as string)).toBe(true);
    expect(after.authorizationId).toBe(pat.authorizationId);
    expect(after.fingerprint).toBe(fingerprint(newToken as string));
    expect(await issuer.store.authenticatePat(oldToken)).toEqual({ ok: false, reason: "unknown" });
    expect((await issuer.store.authenticatePat(newToken as string)).ok).toBe(true);
  });

  it("refuses to update revoked and expired PATs, and bad input changes nothing", async () => {
    const { pat } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "short lived",
      scope: "vso.code",
      validTo: inDays(issuer, 1),
      actor: asUser(t.alice),
    });
    const before = await counts();
    await expectIssuerError(
      issuer.store.updatePat({
        organization: t.org.name,
        authorizationId: pat.authorizationId,
        scope: "vso.unknown",
        actor: asUser(t.alice),
      }),
      "invalid",
      "invalidScope",
    );
    await expectIssuerError(
      issuer.store.updatePat({
        organization: t.org.name,
        authorizationId: "not-a-guid",
        displayName: "x",
        actor: asUser(t.alice),
      }),
      "invalid",
      "invalidAuthorizationId",
    );
    await expectIssuerError(
      issuer.store.updatePat({
        organization: t.org.name,
        authorizationId: "6f1c3a52-1f7e-4c5b-9a3e-000000000000",
        displayName: "x",
        actor: asUser(t.alice),
      }),
      "notFound",
      "authorizationNotFound",
    );
    expect(await counts()).toEqual(before);

    issuer.clock.advance(2 * 86_400_000);
    await expectIssuerError(
      issuer.store.updatePat({
        organization: t.org.name,
        authorizationId: pat.authorizationId,
        validTo: inDays(issuer, 5),
        actor: asUser(t.alice),
      }),
      "invalid",
      "expiredPatCannotBeExtended",
    );
    const live = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "to revoke",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    await issuer.store.revokePat({
      organization: t.org.name,
      authorizationId: live.pat.authorizationId,
      actor: asUser(t.alice),
    });
    await expectIssuerError(
      issuer.store.updatePat({
        organization: t.org.name,
        authorizationId: live.pat.authorizationId,
        displayName: "again",
        actor: asUser(t.alice),
      }),
      "invalid",
      "invalidToken",
    );
  });

  it("narrows a global PAT to the organization named in the request", async () => {
    const { pat, token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "global",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(t.alice),
    });
    expect((await issuer.store.authenticatePat(token, { organization: t.otherOrg.name })).ok).toBe(true);
    const { pat: narrowed } = await issuer.store.updatePat({
      organization: t.otherOrg.name,
      authorizationId: pat.authorizationId,
      allOrgs: false,
      actor: asUser(t.alice),
    });
    expect(narrowed.allOrgs).toBe(false);
    expect(narrowed.organizationId).toBe(t.otherOrg.id);
    expect(await issuer.store.authenticatePat(token, { organization: t.org.name })).toEqual({
      ok: false,
      reason: "wrongOrganization",
    });
    expect((await issuer.store.authenticatePat(token, { organization: t.otherOrg.name })).ok).toBe(true);
  });
});

describe("revoking", () => {
  it("a user revokes their own PAT once; an administrator revokes anyone's", async () => {
    const own = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "mine",
      scope: "vso.code",
      actor: asUser(t.bob),
    });
    const revoked = await issuer.store.revokePat({
      organization: t.org.name,
      authorizationId: own.pat.authorizationId,
      actor: asUser(t.bob),
    });
    expect(revoked.status).toBe("revoked");
    expect(revoked.revokedBy).toBe("user");
    expect(await issuer.store.authenticatePat(own.token)).toEqual({ ok: false, reason: "revoked" });
    const again = await issuer.store.revokePat({
      organization: t.org.name,
      authorizationId: own.pat.authorizationId,
      actor: asUser(t.bob),
    });
    expect(again.revokedAt?.getTime()).toBe(revoked.revokedAt?.getTime());
    const { rows } = await issuer.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE action_id = 'Token.PatRevokeEvent' AND data ->> 'authorizationId' = $1",
      [own.pat.authorizationId],
    );
    expect(rows[0].n).toBe(1);

    const other = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "bob 2",
      scope: "vso.code",
      actor: asUser(t.bob),
    });
    await expectIssuerError(
      issuer.store.revokePat({
        organization: t.org.name,
        authorizationId: other.pat.authorizationId,
        actor: asUser(t.alice),
      }),
      "notFound",
    );
    const byAdmin = await issuer.store.revokePat({
      organization: t.org.name,
      authorizationId: other.pat.authorizationId,
      actor: asUser(t.admin),
      reason: "offboarding",
    });
    expect(byAdmin.revokedBy).toBe("admin");
    expect(byAdmin.revokeReason).toBe("offboarding");

    const third = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "bob 3",
      scope: "vso.code",
      actor: asUser(t.bob),
    });
    const byKey = await issuer.store.adminRevokePat({
      authorizationId: third.pat.authorizationId,
      actor: ADMIN,
    });
    expect(byKey.status).toBe("revoked");
    expect(await issuer.store.authenticatePat(third.token)).toEqual({ ok: false, reason: "revoked" });
  });
});

describe("disabling a user", () => {
  it("makes all of their PATs fail at once, and enabling restores them", async () => {
    const d = await seedTenant(issuer.store);
    const one = await issuer.store.createPat({
      organization: d.org.name,
      displayName: "1",
      scope: "vso.code",
      actor: asUser(d.bob),
    });
    const two = await issuer.store.createPat({
      organization: d.org.name,
      displayName: "2",
      scope: "vso.code",
      allOrgs: true,
      actor: asUser(d.bob),
    });
    await issuer.store.setUserStatus(d.tenant.name, "bob@example.com", "disabled");
    expect(await issuer.store.authenticatePat(one.token)).toEqual({ ok: false, reason: "userDisabled" });
    expect(await issuer.store.authenticatePat(two.token, { organization: d.otherOrg.name })).toEqual({
      ok: false,
      reason: "userDisabled",
    });
    await expectIssuerError(
      issuer.store.createPat({
        organization: d.org.name,
        displayName: "3",
        scope: "vso.code",
        owner: "bob@example.com",
        actor: ADMIN,
      }),
      "forbidden",
    );
    await issuer.store.setUserStatus(d.tenant.name, "bob@example.com", "active");
    expect((await issuer.store.authenticatePat(one.token)).ok).toBe(true);
  });
});

describe("expiry", () => {
  it("is enforced at authentication before any sweep, and the sweep records one event per PAT", async () => {
    const e = await seedTenant(issuer.store);
    const soon = await issuer.store.createPat({
      organization: e.org.name,
      displayName: "expiring",
      scope: "vso.code",
      validTo: inDays(issuer, 1),
      actor: asUser(e.alice),
    });
    const later = await issuer.store.createPat({
      organization: e.org.name,
      displayName: "later",
      scope: "vso.code",
      validTo: inDays(issuer, 3),
      actor: asUser(e.alice),
    });
    expect((await issuer.store.authenticatePat(soon.token)).ok).toBe(true);
    issuer.clock.advance(86_400_000 + 1000);
    expect(await issuer.store.authenticatePat(soon.token)).toEqual({ ok: false, reason: "expired" });
    expect((await issuer.store.authenticatePat(later.token)).ok).toBe(true);

    const first = await issuer.store.expireDuePats({ batchSize: 1 });
    expect(first.expired).toBeGreaterThanOrEqual(1);
    const second = await issuer.store.expireDuePats();
    expect(second.expired).toBe(0);

    const { rows } = await issuer.store.db.query<{ n: number; category: string; actor_kind: string }>(
      `SELECT count(*)::int AS n, min(category) AS category, min(actor_kind) AS actor_kind FROM audit_events
       WHERE action_id = 'Token.PatExpiredEvent' AND data ->> 'authorizationId' = $1`,
      [soon.pat.authorizationId],
    );
    expect(rows[0]).toEqual({ n: 1, category: "Modify", actor_kind: "system" });
    const got = await issuer.store.getPat({
      organization: e.org.name,
      authorizationId: soon.pat.authorizationId,
      actor: asUser(e.alice),
    });
    expect(got.status).toBe("expired");
    expect(
      (
        await issuer.store.getPat({
          organization: e.org.name,
          authorizationId: later.pat.authorizationId,
          actor: asUser(e.alice),
        })
      ).status,
    ).toBe("active");
  });

  it(`two sweeps running at once expire each PAT exactly once ${MEANINGFUL_ON_POSTGRES}`, async () => {
    const e = await seedTenant(issuer.store);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { pat } = await issuer.store.createPat({
        organization: e.org.name,
        displayName: `race ${i}`,
        scope: "vso.code",
        validTo: inDays(issuer, 1),
        actor: asUser(e.alice),
      });
      ids.push(pat.authorizationId);
    }
    issuer.clock.advance(2 * 86_400_000);
    await Promise.all([
      issuer.store.expireDuePats({ batchSize: 2 }),
      issuer.store.expireDuePats({ batchSize: 2 }),
    ]);
    const { rows } = await issuer.store.db.query<{ id: string; n: number }>(
      `SELECT data ->> 'authorizationId' AS id, count(*)::int AS n FROM audit_events
       WHERE action_id = 'Token.PatExpiredEvent' AND data ->> 'authorizationId' = ANY($1::text[])
       GROUP BY 1`,
      [ids],
    );
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect((await issuer.store.verifyAuditChain(e.tenant.id)).ok).toBe(true);
  });
});
