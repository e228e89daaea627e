import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEventHash } from "../../src/issuer/audit.js";
import { AUDIT_ACTIONS } from "../../src/issuer/index.js";
import { MEANINGFUL_ON_POSTGRES } from "../support/database.js";
import { ADMIN, asUser, openTestIssuer, seedTenant, type TestIssuer } from "../support/issuer.js";

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await openTestIssuer();
});
afterAll(async () => {
  await issuer.close();
});

/** A tenant with a few events of every PAT action. */
async function tenantWithHistory() {
  const s = await seedTenant(issuer.store);
  const a = await issuer.store.createPat({
    organization: s.org.name,
    displayName: "one",
    scope: "vso.code",
    actor: asUser(s.alice),
  });
  await issuer.store.updatePat({
    organization: s.org.name,
    authorizationId: a.pat.authorizationId,
    displayName: "one!",
    actor: asUser(s.alice),
  });
  const b = await issuer.store.createPat({
    organization: s.org.name,
    displayName: "two",
    scope: "vso.code",
    actor: asUser(s.bob),
  });
  await issuer.store.revokePat({
    organization: s.org.name,
    authorizationId: b.pat.authorizationId,
    actor: asUser(s.bob),
  });
  await issuer.store.recordPublicDiscovery({
    authorizationId: a.pat.authorizationId,
    repositoryUrl: "https://github.com/acme/app",
    commit: "c0ffee",
    path: "x.txt",
    line: 1,
  });
  await issuer.store.systemRevoke(a.pat.authorizationId, "leaked", "corr");
  return s;
}

/** Edits a row the way an attacker with table access would: bypassing the append-only trigger. */
async function tamper(sql: string, params: unknown[]) {
  await issuer.store.db.transaction(async (tx) => {
    await tx.query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only");
    await tx.query(sql, params);
    await tx.query("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
  });
}

describe("audit events", () => {
  it("use Azure DevOps action ids, area Token and the right categories, and chain per tenant", async () => {
    const s = await tenantWithHistory();
    const { rows } = await issuer.store.db.query<{
      seq: number;
      action_id: string;
      area: string;
      category: string;
      actor_display_name: string;
      organization_name: string;
    }>(
      "SELECT seq::int AS seq, action_id, area, category, actor_display_name, organization_name FROM audit_events WHERE tenant_id = $1 ORDER BY seq",
      [s.tenant.id],
    );
    expect(rows.map((r) => [r.seq, r.action_id, r.area, r.category])).toEqual([
      [1, "Token.PatCreateEvent", "Token", "Create"],
      [2, "Token.PatUpdateEvent", "Token", "Modify"],
      [3, "Token.PatCreateEvent", "Token", "Create"],
      [4, "Token.PatRevokeEvent", "Token", "Remove"],
      [5, "Token.PatPublicDiscoveryEvent", "Token", "Access"],
      [6, "Token.PatSystemRevokeEvent", "Token", "Remove"],
    ]);
    expect(rows[0].actor_display_name).toBe("Alice A");
    expect(rows[5].actor_display_name).toBe("patrol");
    expect(rows.every((r) => r.organization_name === s.org.name)).toBe(true);
    expect(AUDIT_ACTIONS["Token.PatExpiredEvent"]).toEqual({ area: "Token", category: "Modify" });
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toEqual({ ok: true, checked: 6, lastSeq: 6 });
  });

  it("are append-only: the database refuses UPDATE, DELETE and TRUNCATE", async () => {
    const s = await tenantWithHistory();
    await expect(
      issuer.store.db.query("UPDATE audit_events SET details = 'nothing happened' WHERE tenant_id = $1", [
        s.tenant.id,
      ]),
    ).rejects.toThrow(/append-only/);
    await expect(
      issuer.store.db.query("DELETE FROM audit_events WHERE tenant_id = $1", [s.tenant.id]),
    ).rejects.toThrow(/append-only/);
    await expect(issuer.store.db.query("TRUNCATE audit_events")).rejects.toThrow(/append-only/);
    // A purge cutoff does not allow deleting recent events.
    await expect(
      issuer.store.db.transaction(async (tx) => {
        await tx.query("SELECT set_config('patrol.audit_purge_before', '2000-01-01T00:00:00Z', true)");
        await tx.query("DELETE FROM audit_events WHERE tenant_id = $1", [s.tenant.id]);
      }),
    ).rejects.toThrow(/append-only/);
    expect((await issuer.store.verifyAuditChain(s.tenant.id)).ok).toBe(true);
  });

  it("verify reports the first broken link when a row is edited by hand", async () => {
    const s = await tenantWithHistory();
    await tamper("UPDATE audit_events SET details = 'nothing to see' WHERE tenant_id = $1 AND seq = 3", [
      s.tenant.id,
    ]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report.ok).toBe(false);
    if (!report.ok) {
      expect(report.brokenAt.seq).toBe(3);
      expect(report.brokenAt.reason).toMatch(/changed/);
      expect(report.checked).toBe(2);
    }
  });

  it("verify catches an edited row whose own hash was recomputed, at the next link", async () => {
    const s = await tenantWithHistory();
    const [second] = (await issuer.store.queryAuditLog({ tenantId: s.tenant.id })).entries.filter(
      (e) => e.seq === 2,
    );
    const forged = { ...second, details: "a harmless rename" };
    const { hash: _old, ...rest } = forged;
    await tamper("UPDATE audit_events SET details = $2, hash = $3 WHERE tenant_id = $1 AND seq = 2", [
      s.tenant.id,
      forged.details,
      auditEventHash(rest),
    ]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, checked: 2, brokenAt: { seq: 3 } });
    if (!report.ok) expect(report.brokenAt.reason).toMatch(/previous-hash/);
  });

  it("verify catches a deleted row", async () => {
    const s = await tenantWithHistory();
    await tamper("DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 4", [s.tenant.id]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: 5 } });
    if (!report.ok) expect(report.brokenAt.reason).toMatch(/missing/);
  });

  it(`stay in one valid chain when many changes happen at once ${MEANINGFUL_ON_POSTGRES}`, async () => {
    const s = await seedTenant(issuer.store);
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        issuer.store.createPat({
          organization: s.org.name,
          displayName: `parallel ${i}`,
          scope: "vso.code",
          actor: asUser(i % 2 ? s.alice : s.bob),
        }),
      ),
    );
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toEqual({ ok: true, checked: 12, lastSeq: 12 });
  });

  it("are queried newest first with a continuation token, by time and by action", async () => {
    const s = await tenantWithHistory();
    const seen: string[] = [];
    let continuationToken: string | undefined;
    let pages = 0;
    do {
      const page = await issuer.store.queryAuditLog({
        tenantId: s.tenant.id,
        batchSize: 4,
        continuationToken,
      });
      seen.push(...page.entries.map((e) => e.actionId));
      expect(page.hasMore).toBe(page.continuationToken !== null);
      continuationToken = page.continuationToken ?? undefined;
      pages++;
    } while (continuationToken);
    expect(pages).toBe(2);
    expect(seen[0]).toBe("Token.PatSystemRevokeEvent");
    expect(seen).toHaveLength(6);

    const creates = await issuer.store.queryAuditLog({
      tenantId: s.tenant.id,
      actionId: "Token.PatCreateEvent",
    });
    expect(creates.entries.map((e) => e.data.displayName)).toEqual(["two", "one"]);
    const future = await issuer.store.queryAuditLog({
      tenantId: s.tenant.id,
      startTime: new Date(Date.now() + 3_600_000),
    });
    expect(future.entries).toEqual([]);
    const past = await issuer.store.queryAuditLog({
      tenantId: s.tenant.id,
      endTime: new Date(Date.now() + 3_600_000),
    });
    expect(past.entries).toHaveLength(6);
    await expect(
      issuer.store.queryAuditLog({ tenantId: s.tenant.id, continuationToken: "%%%" }),
    ).rejects.toMatchObject({
      kind: "invalid",
    });
  });

  it("export as JSON lines, oldest first, with the hash chain", async () => {
    const s = await tenantWithHistory();
    const lines: string[] = [];
    for await (const line of issuer.store.exportAuditLog(s.tenant.id)) lines.push(line);
    expect(lines).toHaveLength(6);
    expect(lines.every((l) => l.endsWith("\n"))).toBe(true);
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events[0].prevHash).toBe("0".repeat(64));
    for (let i = 1; i < events.length; i++) expect(events[i].prevHash).toBe(events[i - 1].hash);
    expect(events[0]).toMatchObject({ actionId: "Token.PatCreateEvent", area: "Token", category: "Create" });
  });

  it("past the retention period are purged, and the chain still verifies from where it now starts", async () => {
    const s = await tenantWithHistory();
    const recent = await seedTenant(issuer.store);
    // Nothing is old yet.
    expect(await issuer.store.purgeAuditLog()).toEqual({ deleted: 0 });
    // 91 days on, everything so far is past the 90-day retention.
    const later = new Date(Date.now() + 91 * 86_400_000);
    const { deleted } = await issuer.store.purgeAuditLog({ now: later });
    expect(deleted).toBeGreaterThanOrEqual(6);
    const { rows } = await issuer.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1",
      [s.tenant.id],
    );
    expect(rows[0].n).toBe(0);
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toEqual({ ok: true, checked: 0, lastSeq: 6 });

    // New events continue the chain after the anchor.
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: "after purge",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toEqual({ ok: true, checked: 1, lastSeq: 7 });
    await issuer.store.setTenantPolicies(recent.tenant.name, { restrictGlobalPats: true }, ADMIN);
    expect((await issuer.store.verifyAuditChain(recent.tenant.id)).ok).toBe(true);
  });
});
