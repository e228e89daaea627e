import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IssuedPat, IssuerError } from "../../src/issuer/index.js";
import { fingerprint, mintAzdo } from "../../src/tokens/index.js";
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

/** Counts the statements the store sends, to prove a lookup is one query. */
function countQueries() {
  const db = issuer.store.db;
  const original = db.query.bind(db);
  let count = 0;
  (db as { query: typeof db.query }).query = (sql, params, options) => {
    count++;
    return original(sql, params, options);
  };
  return {
    get count() {
      return count;
    },
    restore() {
      (db as { query: typeof db.query }).query = original;
    },
  };
}

describe("findByFingerprints", () => {
  it("finds many PATs with owner, organization and tenant in one query, ignoring unknown fingerprints", async () => {
    const issued: IssuedPat[] = [];
    for (let i = 0; i < 3; i++) {
      issued.push(
        await issuer.store.createPat({
          organization: t.org.name,
          displayName: `leakable ${i}`,
          scope: "vso.code",
          validTo: inDays(issuer, 10),
          actor: asUser(i === 2 ? t.bob : t.alice),
        }),
      );
    }
    const unknown = fingerprint(mintAzdo());
    const probe = countQueries();
    const matches = await issuer.store.findByFingerprints([
      ...issued.map((p) => fingerprint(p.token).toUpperCase()),
      unknown,
      fingerprint(issued[0].token),
    ]);
    probe.restore();
    expect(probe.count).toBe(1);
    expect(matches).toHaveLength(3);
    const first = matches.find((m) => m.authorizationId === issued[0].pat.authorizationId);
    expect(first).toMatchObject({
      fingerprint: fingerprint(issued[0].token),
      displayName: "leakable 0",
      scope: "vso.code",
      format: "azdo-pat",
      status: "active",
      allOrgs: false,
      owner: { id: t.alice.id, email: "alice@example.com", displayName: "Alice A", status: "active" },
      organization: { id: t.org.id, name: t.org.name },
      tenant: { id: t.tenant.id, name: t.tenant.name, autoRevokeLeakedPats: true },
      autoRevokeExempt: false,
      shouldAutoRevoke: true,
    });
    expect(await issuer.store.findByFingerprints([])).toEqual([]);
    await expect(issuer.store.findByFingerprints(["not-hex"])).rejects.toBeInstanceOf(IssuerError);
  });

  it("reports the tenant's auto-revoke policy and the owner's exemption", async () => {
    const s = await seedTenant(issuer.store);
    const alices = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "a",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    const bobs = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "b",
      scope: "vso.code",
      actor: asUser(s.bob),
    });
    await issuer.store.setUserGroups(s.tenant.name, "bob@example.com", ["break-glass"]);
    await issuer.store.setAllowlist(
      { tenant: s.tenant.name, policy: "autoRevokeLeakedPats" },
      { groups: ["break-glass"] },
      ADMIN,
    );
    let matches = await issuer.store.findByFingerprints([fingerprint(alices.token), fingerprint(bobs.token)]);
    const byOwner = (email: string) => matches.find((m) => m.owner.email === email);
    expect(byOwner("alice@example.com")).toMatchObject({ autoRevokeExempt: false, shouldAutoRevoke: true });
    expect(byOwner("bob@example.com")).toMatchObject({ autoRevokeExempt: true, shouldAutoRevoke: false });

    await issuer.store.setTenantPolicies(s.tenant.name, { autoRevokeLeakedPats: false }, ADMIN);
    matches = await issuer.store.findByFingerprints([fingerprint(alices.token), fingerprint(bobs.token)]);
    expect(byOwner("alice@example.com")).toMatchObject({
      tenant: { autoRevokeLeakedPats: false },
      shouldAutoRevoke: false,
    });
  });

  it("reports expired and revoked PATs with their status", async () => {
    const s = await seedTenant(issuer.store);
    const expiring = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "e",
      scope: "vso.code",
      validTo: inDays(issuer, 1),
      actor: asUser(s.alice),
    });
    issuer.clock.advance(2 * 86_400_000);
    const [match] = await issuer.store.findByFingerprints([fingerprint(expiring.token)]);
    expect(match.status).toBe("expired");
  });
});

describe("systemRevoke", () => {
  it("revokes once, records Token.PatSystemRevokeEvent once, and a second call changes nothing", async () => {
    const { pat, token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "leaked one",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    const first = await issuer.store.systemRevoke(
      pat.authorizationId,
      "leaked in a public repository",
      "corr-1",
    );
    expect(first.revoked).toBe(true);
    expect(first.pat.status).toBe("revoked");
    expect(first.pat.revokedBy).toBe("system");
    expect(first.pat.revokeReason).toBe("leaked in a public repository");
    expect(await issuer.store.authenticatePat(token)).toEqual({ ok: false, reason: "revoked" });

    const { rows: before } = await issuer.store.db.query<{ updated_at: Date }>(
      "SELECT updated_at FROM pats WHERE authorization_id = $1",
      [pat.authorizationId],
    );
    const second = await issuer.store.systemRevoke(pat.authorizationId, "leaked again", "corr-2");
    expect(second.revoked).toBe(false);
    expect(second.pat.revokeReason).toBe("leaked in a public repository");
    const { rows: after } = await issuer.store.db.query<{ updated_at: Date }>(
      "SELECT updated_at FROM pats WHERE authorization_id = $1",
      [pat.authorizationId],
    );
    expect(after[0].updated_at.getTime()).toBe(before[0].updated_at.getTime());

    const { rows } = await issuer.store.db.query<{
      category: string;
      area: string;
      actor_kind: string;
      correlation_id: string;
    }>(
      `SELECT category, area, actor_kind, correlation_id FROM audit_events
       WHERE action_id = 'Token.PatSystemRevokeEvent' AND data ->> 'authorizationId' = $1`,
      [pat.authorizationId],
    );
    expect(rows).toEqual([
      { category: "Remove", area: "Token", actor_kind: "system", correlation_id: "corr-1" },
    ]);
  });

  it(`is safe when called concurrently ${MEANINGFUL_ON_POSTGRES}`, async () => {
    const { pat } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "race",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    const results = await Promise.all([
      issuer.store.systemRevoke(pat.authorizationId, "leak", "c1"),
      issuer.store.systemRevoke(pat.authorizationId, "leak", "c2"),
      issuer.store.systemRevoke(pat.authorizationId, "leak", "c3"),
    ]);
    expect(results.filter((r) => r.revoked)).toHaveLength(1);
    const { rows } = await issuer.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE action_id = 'Token.PatSystemRevokeEvent' AND data ->> 'authorizationId' = $1",
      [pat.authorizationId],
    );
    expect(rows[0].n).toBe(1);
  });

  it("does not touch an expired PAT, and rejects unknown ids and empty reasons", async () => {
    const s = await seedTenant(issuer.store);
    const { pat } = await issuer.store.createPat({
      organization: s.org.name,
      displayName: "old",
      scope: "vso.code",
      validTo: inDays(issuer, 1),
      actor: asUser(s.alice),
    });
    issuer.clock.advance(2 * 86_400_000);
    await issuer.store.expireDuePats();
    const result = await issuer.store.systemRevoke(pat.authorizationId, "leak", null);
    expect(result).toMatchObject({ revoked: false, pat: { status: "expired" } });
    await expect(
      issuer.store.systemRevoke("4b1d0d5e-8a35-4a53-9a43-2d3c9e6f0a11", "leak", null),
    ).rejects.toMatchObject({
      kind: "notFound",
    });
    await expect(issuer.store.systemRevoke(pat.authorizationId, "  ", null)).rejects.toMatchObject({
      kind: "invalid",
    });
  });
});

describe("recordPublicDiscovery", () => {
  it("writes Token.PatPublicDiscoveryEvent with the location and never the token, once per location", async () => {
    const { pat, token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "Deploy key",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    const location = {
      authorizationId: pat.authorizationId,
      repositoryUrl: "https://github.com/acme/app",
      commit: "0123456789abcdef0123456789abcdef01234567",
      path: "config/settings.json",
      line: 12,
      correlationId: "delivery-1",
    };
    expect(await issuer.store.recordPublicDiscovery(location)).toEqual({ recorded: true });
    expect(
      await issuer.store.recordPublicDiscovery({ ...location, correlationId: "delivery-1-retry" }),
    ).toEqual({ recorded: false });
    expect(await issuer.store.recordPublicDiscovery({ ...location, line: 13 })).toEqual({ recorded: true });

    const { rows } = await issuer.store.db.query<{
      details: string;
      category: string;
      area: string;
      data: Record<string, unknown>;
    }>(
      `SELECT details, category, area, data FROM audit_events
       WHERE action_id = 'Token.PatPublicDiscoveryEvent' AND data ->> 'authorizationId' = $1 ORDER BY seq`,
      [pat.authorizationId],
    );
    expect(rows).toHaveLength(2);
    expect(rows[0].details).toBe(
      'PAT "Deploy key" associated with user "Alice A" was discovered in a public repository',
    );
    expect(rows[0].category).toBe("Access");
    expect(rows[0].area).toBe("Token");
    expect(rows[0].data).toMatchObject({
      displayName: "Deploy key",
      ownerName: "Alice A",
      repositoryUrl: "https://github.com/acme/app",
      commit: location.commit,
      path: "config/settings.json",
      line: 12,
    });
    expect(JSON.stringify(rows)).not.toContain(token);
    // How patrol learned of it and the link, when known; an unknown PAT is an error, not an event.
    await issuer.store.recordPublicDiscovery({
      ...location,
      line: 14,
      source: "secret-scanning",
      url: "https://github.com/acme/app/blob/0123/config/settings.json#L14",
    });
    const [withLink] = (
      await issuer.store.queryAuditLog({ tenantId: t.tenant.id, actionId: "Token.PatPublicDiscoveryEvent" })
    ).entries;
    expect(withLink.data).toMatchObject({
      line: 14,
      source: "secret-scanning",
      url: "https://github.com/acme/app/blob/0123/config/settings.json#L14",
    });
    expect(rows[0].data).not.toHaveProperty("source");
    expect(rows[0].data).not.toHaveProperty("url");
    const nobody = "00000000-0000-4000-8000-000000000000";
    await expect(
      issuer.store.recordPublicDiscovery({ ...location, authorizationId: nobody }),
    ).rejects.toMatchObject({
      kind: "notFound",
      message: `no PAT with authorizationId ${nobody}`,
      patTokenError: "authorizationNotFound",
    });
  });
});

describe("leak incidents", () => {
  it("keep one incident per token with every location, the action taken and when the owner was mailed", async () => {
    const { pat, token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "incident",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    const fp = fingerprint(token);
    const seenAt = new Date("2025-01-02T03:04:05.000Z");
    const first = await issuer.store.recordIncident({
      fingerprint: fp,
      format: "azdo-pat",
      authorizationId: pat.authorizationId,
      tenantId: t.tenant.id,
      location: {
        repository: "acme/app",
        commit: "abc123",
        path: "a.txt",
        line: 1,
        url: "https://github.com/acme/app/blob/abc123/a.txt#L1",
        source: "push",
        seenAt,
      },
    });
    expect(first).toMatchObject({ newIncident: true, newLocation: true });
    expect(first.incident).toMatchObject({
      fingerprint: fp,
      action: "pending",
      mailedAt: null,
      authorizationId: pat.authorizationId,
    });

    const again = await issuer.store.recordIncident({
      fingerprint: fp,
      format: "azdo-pat",
      location: { repository: "acme/app", commit: "abc123", path: "a.txt", line: 1, source: "push" },
    });
    expect(again).toMatchObject({ newIncident: false, newLocation: false });
    const more = await issuer.store.recordIncident({
      fingerprint: fp,
      format: "azdo-pat",
      location: { repository: "acme/fork", commit: "def456", path: "b/c.env", line: 7, source: "history" },
    });
    expect(more).toMatchObject({ newIncident: false, newLocation: true });
    expect(more.incident.locations.map((l) => `${l.repository}:${l.path}:${l.line}`)).toEqual([
      "acme/app:a.txt:1",
      "acme/fork:b/c.env:7",
    ]);
    expect(more.incident.firstSeenAt.toISOString()).toBe(seenAt.toISOString());
    expect(more.incident.authorizationId).toBe(pat.authorizationId);

    const acted = await issuer.store.setIncidentAction(fp, "revoked");
    expect(acted.action).toBe("revoked");
    expect(acted.actionAt).not.toBeNull();
    expect(await issuer.store.recordMailSent(fp)).toEqual({ firstTime: true });
    expect(await issuer.store.recordMailSent(fp)).toEqual({ firstTime: false });
    expect((await issuer.store.getIncident(fp))?.mailedAt).not.toBeNull();

    // A token that is not ours still gets an incident (for the partner feedback and the dashboard).
    const foreign = fingerprint(mintAzdo());
    const stranger = await issuer.store.recordIncident({
      fingerprint: foreign,
      format: "azdo-pat",
      location: { repository: "x/y", commit: "1", path: "p", line: 3, source: "secret-scanning" },
    });
    expect(stranger.incident).toMatchObject({ authorizationId: null, tenantId: null });
    await expect(issuer.store.recordMailSent(fingerprint("nothing"))).rejects.toMatchObject({
      kind: "notFound",
    });
    await expect(
      issuer.store.recordIncident({
        fingerprint: foreign,
        format: "azdo-pat",
        location: { repository: "x/y", commit: "1", path: "p", line: 0, source: "push" },
      }),
    ).rejects.toMatchObject({ kind: "invalid" });
  });
});

describe("leak incidents, merged and listed", () => {
  const where = (line: number, seenAt?: Date) => ({
    repository: "acme/app",
    commit: "abc123",
    path: "a.txt",
    line,
    source: "push",
    ...(seenAt ? { seenAt } : {}),
  });

  it("merge later sightings into the first: the earliest and latest times, the first redacted form and owner", async () => {
    const { pat, token } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "merged",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    const fp = fingerprint(token);
    const middle = new Date("2025-03-01T00:00:00.000Z");
    // First seen without an owner or redacted form (a partner alert before the look-up), in upper case.
    await issuer.store.recordIncident({
      fingerprint: fp.toUpperCase(),
      format: "azdo-pat",
      location: { ...where(1, middle), url: "https://github.com/acme/app/blob/abc123/a.txt#L1" },
    });
    const earlier = new Date("2025-02-01T00:00:00.000Z");
    const later = new Date("2025-04-01T00:00:00.000Z");
    await issuer.store.recordIncident({
      fingerprint: fp,
      format: "azdo-pat",
      authorizationId: pat.authorizationId,
      tenantId: t.tenant.id,
      redacted: "Ab3x…1xwm",
      location: where(2, earlier),
    });
    const { incident } = await issuer.store.recordIncident({
      fingerprint: fp,
      format: "azdo-pat",
      redacted: "Zzzz…zzzz",
      location: where(3, later),
    });
    expect(incident).toMatchObject({
      fingerprint: fp,
      authorizationId: pat.authorizationId,
      tenantId: t.tenant.id,
      redacted: "Ab3x…1xwm",
      firstSeenAt: earlier,
      lastSeenAt: later,
      mail: { attempts: 0, lastError: null, lastAttemptAt: null },
    });
    // Locations in the order they were seen, each with its own time and source.
    expect(incident.locations.map((l) => [l.line, l.seenAt.toISOString(), l.source, l.url])).toEqual([
      [2, earlier.toISOString(), "push", null],
      [1, middle.toISOString(), "push", "https://github.com/acme/app/blob/abc123/a.txt#L1"],
      [3, later.toISOString(), "push", null],
    ]);
    expect(incident.locations[0]).toMatchObject({ repository: "acme/app", commit: "abc123", path: "a.txt" });
  });

  it("refuse bad input with a message that says what is wrong", async () => {
    const fp = fingerprint(mintAzdo());
    for (const [input, message] of [
      [{ fingerprint: fp, format: "github-pat", location: where(1) }, "unknown token format"],
      [
        { fingerprint: fp, format: "azdo-pat", redacted: mintAzdo(), location: where(1) },
        "redacted must be the first 4 characters, an ellipsis and the last 4",
      ],
      [
        { fingerprint: fp, format: "azdo-pat", redacted: "Ab3x...1xwm", location: where(1) },
        "redacted must be the first 4 characters, an ellipsis and the last 4",
      ],
      [
        { fingerprint: "abc", format: "azdo-pat", location: where(1) },
        "a fingerprint is the 64-character hex SHA-256 of a token",
      ],
      [{ fingerprint: fp, format: "azdo-pat", location: { ...where(1), line: 0 } }, /^location/],
    ] as [object, string | RegExp][]) {
      await expect(issuer.store.recordIncident(input as never), JSON.stringify(input)).rejects.toMatchObject({
        kind: "invalid",
        message: typeof message === "string" ? message : expect.stringMatching(message),
      });
    }
    expect(await issuer.store.getIncident(fp)).toBeNull();
    // The legacy format is one of ours.
    const legacy = await issuer.store.recordIncident({
      fingerprint: fp,
      format: "azdo-pat-legacy",
      location: where(1),
    });
    expect(legacy.incident.format).toBe("azdo-pat-legacy");
    const none = fingerprint("none");
    await expect(issuer.store.setIncidentAction(none, "revoked")).rejects.toMatchObject({
      kind: "notFound",
      message: "no incident for that fingerprint",
    });
    await expect(issuer.store.recordMailSent(none)).rejects.toMatchObject({
      kind: "notFound",
      message: "no incident for that fingerprint",
    });
    const nobody = "00000000-0000-4000-8000-000000000000";
    await expect(issuer.store.systemRevoke(nobody, "leaked", null)).rejects.toMatchObject({
      kind: "notFound",
      message: `no PAT with authorizationId ${nobody}`,
      patTokenError: "authorizationNotFound",
    });
  });

  it("keep the mail's attempts and its last error, cut to 1,000 characters", async () => {
    const fp = fingerprint(mintAzdo());
    await issuer.store.recordIncident({ fingerprint: fp, format: "azdo-pat", location: where(1) });
    await issuer.store.recordMailAttempt(fp, `550 ${"x".repeat(2000)}`);
    let incident = await issuer.store.getIncident(fp);
    expect(incident?.mail.attempts).toBe(1);
    expect(incident?.mail.lastError).toBe(`550 ${"x".repeat(996)}`);
    expect(incident?.mail.lastAttemptAt).toBeInstanceOf(Date);
    await issuer.store.recordMailAttempt(fp, null);
    incident = await issuer.store.getIncident(fp);
    expect(incident?.mail).toMatchObject({ attempts: 2, lastError: null });
  });

  it("are listed newest first, by tenant, action and time, in pages, with their first 100 locations", async () => {
    const s = await seedTenant(issuer.store);
    const day = (d: number) => new Date(Date.UTC(2025, 5, d));
    const fps = [1, 2, 3].map(() => fingerprint(mintAzdo()));
    for (const [i, fp] of fps.entries()) {
      await issuer.store.recordIncident({
        fingerprint: fp,
        format: "azdo-pat",
        tenantId: s.tenant.id,
        location: where(1, day(i + 1)),
      });
    }
    await issuer.store.setIncidentAction(fps[0], "revoked");
    await issuer.store.setIncidentAction(fps[1], "notRevokedPolicyOff");
    // The newest gets 101 locations in all: a list carries the first 100, the incident itself all of them.
    const { rows } = await issuer.store.db.query<{ id: string }>(
      "SELECT id FROM leak_incidents WHERE fingerprint = $1",
      [fps[2]],
    );
    await issuer.store.db.query(
      `INSERT INTO leak_incident_locations (incident_id, repository, commit_sha, path, line, url, source, seen_at)
       SELECT $1, 'acme/app', 'abc123', 'many.txt', n, NULL, 'history', $2::timestamptz + n * interval '1 second'
       FROM generate_series(1, 100) AS n`,
      [rows[0].id, day(3)],
    );
    // Another tenant's incident, seen last of all: never in this tenant's list.
    const elsewhere = await seedTenant(issuer.store);
    await issuer.store.recordIncident({
      fingerprint: fingerprint(mintAzdo()),
      format: "azdo-pat",
      tenantId: elsewhere.tenant.id,
      location: where(1, day(9)),
    });
    const list = (query: Omit<Parameters<typeof issuer.store.listIncidents>[0], "tenantId">) =>
      issuer.store.listIncidents({ tenantId: s.tenant.id, ...query });
    const fpsOf = (page: { incidents: { fingerprint: string }[] }) =>
      page.incidents.map((i) => i.fingerprint);

    const all = await list({});
    expect(fpsOf(all)).toEqual([fps[2], fps[1], fps[0]]);
    expect(all.continuationToken).toBeNull();
    expect(all.incidents[0].locations).toHaveLength(100);
    expect(all.incidents[0].locations[0]).toMatchObject({ line: 1, path: "a.txt" });
    expect((await issuer.store.getIncident(fps[2]))?.locations).toHaveLength(101);
    expect(all.incidents[2]).toMatchObject({ action: "revoked", tenantId: s.tenant.id });

    expect(fpsOf(await list({ action: "revoked" }))).toEqual([fps[0]]);
    expect(fpsOf(await list({ action: "notRevokedPolicyOff" }))).toEqual([fps[1]]);
    expect(fpsOf(await list({ since: day(2) }))).toEqual([fps[2], fps[1]]);
    expect(fpsOf(await list({ until: day(2) }))).toEqual([fps[0]]);
    expect(fpsOf(await list({ since: day(2), until: day(3) }))).toEqual([fps[1]]);

    const first = await list({ top: 2 });
    expect(fpsOf(first)).toEqual([fps[2], fps[1]]);
    expect(first.continuationToken).toEqual(expect.any(String));
    const second = await list({ top: 2, continuationToken: first.continuationToken ?? undefined });
    expect(fpsOf(second)).toEqual([fps[0]]);
    expect(second.continuationToken).toBeNull();
    // Exactly a page's worth: no token for an empty next page.
    expect((await list({ top: 3 })).continuationToken).toBeNull();
    expect(fpsOf(await list({ top: 1 }))).toEqual([fps[2]]);
    expect(fpsOf(await list({ top: 500 }))).toHaveLength(3);

    for (const top of [0, 501, 1.5, -1]) {
      await expect(list({ top }), String(top)).rejects.toMatchObject({
        kind: "invalid",
        message: "$top must be a whole number from 1 to 500",
      });
    }
    const forged = Buffer.from(JSON.stringify({ t: "yesterday", id: "x" })).toString("base64url");
    for (const continuationToken of ["%%%", "bm90IGpzb24", forged]) {
      await expect(list({ continuationToken }), continuationToken).rejects.toMatchObject({
        kind: "invalid",
        message: "continuationToken is not one this server gave out",
      });
    }

    // Incidents first seen at the same instant are paged by id: none is skipped or repeated.
    const tied = await seedTenant(issuer.store);
    for (let i = 0; i < 3; i++)
      await issuer.store.recordIncident({
        fingerprint: fingerprint(mintAzdo()),
        format: "azdo-pat",
        tenantId: tied.tenant.id,
        location: where(1, day(5)),
      });
    const pages: string[] = [];
    let token: string | undefined;
    do {
      const page = await issuer.store.listIncidents({
        tenantId: tied.tenant.id,
        top: 1,
        continuationToken: token,
      });
      pages.push(...page.incidents.map((i) => i.id));
      token = page.continuationToken ?? undefined;
    } while (token);
    expect(pages).toHaveLength(3);
    expect(new Set(pages).size).toBe(3);
    // A tenant without incidents has an empty list.
    const quiet = await seedTenant(issuer.store);
    expect(await issuer.store.listIncidents({ tenantId: quiet.tenant.id })).toEqual({
      incidents: [],
      continuationToken: null,
    });

    // By id, as the dashboard links them; anything that is not a known id is simply not there.
    const byId = await issuer.store.getIncidentById(all.incidents[1].id);
    expect(byId).toEqual(await issuer.store.getIncident(fps[1]));
    expect(await issuer.store.getIncidentById("not-a-uuid")).toBeNull();
    expect(await issuer.store.getIncidentById("00000000-0000-4000-8000-000000000000")).toBeNull();
  });
});
