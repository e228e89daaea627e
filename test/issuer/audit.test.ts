import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appendAuditEvent,
  auditEventHash,
  encodeCursor,
  verifyAuditChain,
  writeAuditCheckpoints,
} from "../../src/issuer/audit.js";
import { AUDIT_ACTIONS, type AuditEvent, SYSTEM_ACTOR } from "../../src/issuer/index.js";
import { MEANINGFUL_ON_POSTGRES } from "../support/database.js";
import { ADMIN, asUser, openTestIssuer, seedTenant, type TestIssuer } from "../support/issuer.js";

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await openTestIssuer();
});
afterAll(async () => {
  await issuer.close();
});

/** The sequence number of a tenant's newest event (0 when none). */
async function headSeq(tenantId: string): Promise<number> {
  const { rows } = await issuer.store.db.query<{ seq: number | null }>(
    "SELECT max(seq)::int AS seq FROM audit_events WHERE tenant_id = $1",
    [tenantId],
  );
  return rows[0].seq ?? 0;
}

/** A tenant with a few events of every PAT action, after `base` events of its creation (directory changes). */
async function tenantWithHistory() {
  const seeded = await seedTenant(issuer.store);
  const s = { ...seeded, base: await headSeq(seeded.tenant.id) };
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
      "SELECT seq::int AS seq, action_id, area, category, actor_display_name, organization_name FROM audit_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq",
      [s.tenant.id, s.base],
    );
    const b = s.base;
    expect(rows.map((r) => [r.seq, r.action_id, r.area, r.category])).toEqual([
      [b + 1, "Token.PatCreateEvent", "Token", "Create"],
      [b + 2, "Token.PatUpdateEvent", "Token", "Modify"],
      [b + 3, "Token.PatCreateEvent", "Token", "Create"],
      [b + 4, "Token.PatRevokeEvent", "Token", "Remove"],
      [b + 5, "Token.PatPublicDiscoveryEvent", "Token", "Access"],
      [b + 6, "Token.PatSystemRevokeEvent", "Token", "Remove"],
    ]);
    expect(rows[0].actor_display_name).toBe("Alice A");
    expect(rows[5].actor_display_name).toBe("patrol");
    expect(rows.every((r) => r.organization_name === s.org.name)).toBe(true);
    expect(AUDIT_ACTIONS["Token.PatExpiredEvent"]).toEqual({ area: "Token", category: "Modify" });
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({
      ok: true,
      checked: b + 6,
      lastSeq: b + 6,
    });
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
    await tamper("UPDATE audit_events SET details = 'nothing to see' WHERE tenant_id = $1 AND seq = $2", [
      s.tenant.id,
      s.base + 3,
    ]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report.ok).toBe(false);
    if (!report.ok) {
      expect(report.brokenAt.seq).toBe(s.base + 3);
      expect(report.brokenAt.reason).toMatch(/changed/);
      expect(report.checked).toBe(s.base + 2);
    }
  });

  it("verify catches an edited row whose own MAC was recomputed with the key, at the next link", async () => {
    const s = await tenantWithHistory();
    const [second] = (await issuer.store.queryAuditLog({ tenantId: s.tenant.id })).entries.filter(
      (e) => e.seq === s.base + 2,
    );
    const forged = { ...second, details: "a harmless rename" };
    const { hash: _old, ...rest } = forged;
    await tamper("UPDATE audit_events SET details = $2, hash = $3 WHERE tenant_id = $1 AND seq = $4", [
      s.tenant.id,
      forged.details,
      auditEventHash(rest, issuer.store.ctx.auditKeys.chain),
      s.base + 2,
    ]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, checked: s.base + 2, brokenAt: { seq: s.base + 3 } });
    if (!report.ok) expect(report.brokenAt.reason).toMatch(/previous-MAC/);
  });

  it("verify catches a deleted row", async () => {
    const s = await tenantWithHistory();
    await tamper("DELETE FROM audit_events WHERE tenant_id = $1 AND seq = $2", [s.tenant.id, s.base + 4]);
    const report = await issuer.store.verifyAuditChain(s.tenant.id);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: s.base + 5 } });
    if (!report.ok) expect(report.brokenAt.reason).toMatch(/missing/);
  });

  it(`stay in one valid chain when many changes happen at once ${MEANINGFUL_ON_POSTGRES}`, async () => {
    const s = await seedTenant(issuer.store);
    const base = await headSeq(s.tenant.id);
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
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({
      ok: true,
      checked: base + 12,
      lastSeq: base + 12,
    });
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
    expect(pages).toBe(Math.ceil((s.base + 6) / 4));
    expect(seen[0]).toBe("Token.PatSystemRevokeEvent");
    expect(seen).toHaveLength(s.base + 6);

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
    expect(past.entries).toHaveLength(s.base + 6);
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
    expect(lines).toHaveLength(s.base + 6);
    expect(lines.every((l) => l.endsWith("\n"))).toBe(true);
    const events = lines.map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: s.base + 6 }, (_, i) => i + 1));
    expect(events[0].prevHash).toBe("0".repeat(64));
    for (let i = 1; i < events.length; i++) expect(events[i].prevHash).toBe(events[i - 1].hash);
    expect(events[0]).toMatchObject({ actionId: "Tenant.Create", area: "Tenant", category: "Create" });
    expect(events[s.base]).toMatchObject({
      actionId: "Token.PatCreateEvent",
      area: "Token",
      category: "Create",
    });
  });

  it("past the retention period are purged, and the chain still verifies from its signed anchor", async () => {
    const s = await tenantWithHistory();
    const recent = await seedTenant(issuer.store);
    // Nothing is old yet, whatever clock the purge is given: the database holds it to its own clock.
    expect(await issuer.store.purgeAuditLog()).toEqual({ deleted: 0 });
    expect(await issuer.store.purgeAuditLog({ now: new Date(Date.now() + 91 * 86_400_000) })).toEqual({
      deleted: 0,
    });
    const total = s.base + 6;
    await backdateLog(s.tenant.id, 91);
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({ ok: true, checked: total });
    const { deleted } = await issuer.store.purgeAuditLog();
    expect(deleted).toBe(total);
    const { rows } = await issuer.store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1",
      [s.tenant.id],
    );
    expect(rows[0].n).toBe(0);
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({
      ok: true,
      checked: 0,
      lastSeq: total,
      startsAfter: total,
    });

    // New events continue the chain after the anchor.
    await issuer.store.createPat({
      organization: s.org.name,
      displayName: "after purge",
      scope: "vso.code",
      actor: asUser(s.alice),
    });
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({
      ok: true,
      checked: 1,
      lastSeq: total + 1,
    });
    await issuer.store.setTenantPolicies(recent.tenant.name, { restrictGlobalPats: true }, ADMIN);
    expect((await issuer.store.verifyAuditChain(recent.tenant.id)).ok).toBe(true);
  });
});

describe("retention anchors", () => {
  it("must match a checkpoint of their event, and their signature covers their own tenant, place and MAC", async () => {
    const s = await tenantWithHistory();
    const dir = await mkdtemp(path.join(tmpdir(), "patrol-anchor-"));
    try {
      const before = { ...issuer.store.ctx, auditCheckpointFile: path.join(dir, "before.jsonl") };
      await writeAuditCheckpoints(before);
      const total = await headSeq(s.tenant.id);
      // Rewritten with the key before the purge (as backdating does): the purge anchors the rewritten head.
      await backdateLog(s.tenant.id, 91);
      const matching = { ...issuer.store.ctx, auditCheckpointFile: path.join(dir, "matching.jsonl") };
      await writeAuditCheckpoints(matching);
      expect((await issuer.store.purgeAuditLog()).deleted).toBeGreaterThanOrEqual(total);
      // A checkpoint of the anchored event as it was purged agrees with the anchor.
      expect(await verifyAuditChain(matching, s.tenant.id)).toMatchObject({
        ok: true,
        checked: 0,
        checkpoints: 0,
        startsAfter: total,
      });
      expect(await verifyAuditChain(before, s.tenant.id)).toEqual({
        ok: false,
        checked: 0,
        brokenAt: {
          seq: total,
          id: null,
          reason: "the retention anchor does not match the checkpoint of its event",
        },
      });
      // A checkpoint taken after the purge, of a later event, agrees with the anchored chain.
      await issuer.store.createPat({
        organization: s.org.name,
        displayName: "after the purge",
        scope: "vso.code",
        actor: asUser(s.alice),
      });
      const after = { ...issuer.store.ctx, auditCheckpointFile: path.join(dir, "after.jsonl") };
      await writeAuditCheckpoints(after);
      expect(await verifyAuditChain(after, s.tenant.id)).toMatchObject({
        ok: true,
        checked: 1,
        checkpoints: 1,
        startsAfter: total,
      });

      // Another tenant's head deleted and an anchor forged with the MAC copied from this tenant's anchor.
      const victim = await seedTenant(issuer.store);
      const { rows: anchors } = await issuer.store.db.query<{ mac: string }>(
        "SELECT mac FROM audit_chain_anchors WHERE tenant_id = $1",
        [s.tenant.id],
      );
      const { rows: cut } = await issuer.store.db.query<{ hash: string }>(
        "SELECT hash FROM audit_events WHERE tenant_id = $1 AND seq = 2",
        [victim.tenant.id],
      );
      await tamper("DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= 2", [victim.tenant.id]);
      await issuer.store.db.query(
        "INSERT INTO audit_chain_anchors (tenant_id, seq, hash, purged_at, mac) VALUES ($1, 2, $2, now(), $3)",
        [victim.tenant.id, cut[0].hash, anchors[0].mac],
      );
      const report = await issuer.store.verifyAuditChain(victim.tenant.id);
      expect(report).toMatchObject({ ok: false, brokenAt: { seq: 3 } });
      if (!report.ok) expect(report.brokenAt.reason).toMatch(/no valid signature/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("audit event contents and reads", () => {
  it("record who acted, where, from which address, and the user's values without NUL (PostgreSQL text cannot hold it)", async () => {
    const s = await seedTenant(issuer.store);
    const written = await issuer.store.db.transaction(async (tx) => [
      await appendAuditEvent(issuer.store.ctx, tx, {
        tenantId: s.tenant.id,
        organization: { id: s.org.id, name: s.org.name },
        actor: asUser({ ...s.alice, displayName: "Alice\u0000 A" }),
        actionId: "Token.PatUpdateEvent",
        details: "renamed \u0000to x",
        data: { name: "x\u0000y", count: 2, flag: false, none: null },
        correlationId: "corr-1",
        ipAddress: "203.0.113.9",
      }),
      await appendAuditEvent(issuer.store.ctx, tx, {
        tenantId: s.tenant.id,
        organization: null,
        actor: ADMIN,
        actionId: "Policy.PolicyValueUpdated",
        details: "tenant-wide",
        data: {},
      }),
      await appendAuditEvent(issuer.store.ctx, tx, {
        tenantId: s.tenant.id,
        organization: null,
        actor: SYSTEM_ACTOR,
        actionId: "Token.PatExpiredEvent",
        details: "expired",
        data: {},
      }),
    ]);
    expect(written[0]).toMatchObject({
      organizationId: s.org.id,
      organizationName: s.org.name,
      actorKind: "user",
      actorUserId: s.alice.id,
      actorDisplayName: "Alice A",
      actorUpn: "alice@example.com",
      area: "Token",
      category: "Modify",
      details: "renamed to x",
      data: { name: "xy", count: 2, flag: false, none: null },
      correlationId: "corr-1",
      ipAddress: "203.0.113.9",
    });
    expect(written[1]).toMatchObject({
      organizationId: null,
      organizationName: null,
      actorKind: "admin",
      actorUserId: null,
      actorDisplayName: "test administrator",
      actorUpn: null,
      area: "Policy",
      category: "Modify",
      correlationId: null,
      ipAddress: null,
    });
    expect(written[2]).toMatchObject({ actorKind: "system", actorDisplayName: "patrol", actorUserId: null });
    expect(written[1].seq).toBe(written[0].seq + 1);
    expect(written[1].prevHash).toBe(written[0].hash);
    // What was returned is what was stored, field by field.
    const read = (await issuer.store.queryAuditLog({ tenantId: s.tenant.id, batchSize: 3 })).entries;
    expect(read.reverse()).toEqual(written);
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({ ok: true });
  });

  it("read by organization: its own events and the tenant-wide ones, never another organization's", async () => {
    const s = await seedTenant(issuer.store);
    for (const org of [s.org, s.otherOrg]) {
      await issuer.store.createPat({
        organization: org.name,
        displayName: `in ${org.name}`,
        scope: "vso.code",
        actor: asUser(s.alice),
      });
    }
    await issuer.store.setTenantPolicies(s.tenant.name, { restrictGlobalPats: true }, ADMIN);
    const page = await issuer.store.queryAuditLog({ tenantId: s.tenant.id, organizationId: s.org.id });
    expect(page.entries.length).toBeGreaterThan(0);
    expect(page.entries.every((e) => e.organizationId === s.org.id || e.organizationId === null)).toBe(true);
    expect(
      page.entries.filter((e) => e.actionId === "Token.PatCreateEvent").map((e) => e.data.displayName),
    ).toEqual([`in ${s.org.name}`]);
    expect(page.entries.some((e) => e.actionId === "Policy.PolicyValueUpdated")).toBe(true);
    const exported: AuditEvent[] = [];
    for await (const line of issuer.store.exportAuditLog(s.tenant.id, { organizationId: s.org.id }))
      exported.push(JSON.parse(line));
    expect(exported.map((e) => e.seq)).toEqual(page.entries.map((e) => e.seq).reverse());
    // By time, on export as on the query: nothing after the future, everything before it.
    const lines = async (filter: { startTime?: Date; endTime?: Date }) => {
      let n = 0;
      for await (const _ of issuer.store.exportAuditLog(s.tenant.id, filter)) n++;
      return n;
    };
    const later = new Date(Date.now() + 3_600_000);
    expect(await lines({ startTime: later })).toBe(0);
    expect(await lines({ endTime: later })).toBe(await headSeq(s.tenant.id));
    expect(await lines({ endTime: new Date(Date.now() - 3_600_000) })).toBe(0);
    const before = await issuer.store.queryAuditLog({
      tenantId: s.tenant.id,
      endTime: new Date(Date.now() - 3_600_000),
    });
    expect(before.entries).toEqual([]);
  });

  it("page from a continuation token, and refuse tokens this service did not issue", async () => {
    const s = await tenantWithHistory();
    const head = await headSeq(s.tenant.id);
    const page = await issuer.store.queryAuditLog({
      tenantId: s.tenant.id,
      continuationToken: encodeCursor(4),
    });
    expect(page.entries.map((e) => e.seq)).toEqual([3, 2, 1]);
    expect(page).toMatchObject({ hasMore: false, continuationToken: null });
    const full = await issuer.store.queryAuditLog({ tenantId: s.tenant.id, batchSize: head });
    expect(full).toMatchObject({ hasMore: false, continuationToken: null });
    expect(full.entries).toHaveLength(head);
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    for (const token of [
      cursor({ seq: 0 }),
      cursor({ seq: -3 }),
      cursor({ seq: 1.5 }),
      cursor({ seq: "3" }),
      cursor({ seq: 2 ** 53 }),
      cursor({}),
      cursor(null),
    ]) {
      await expect(
        issuer.store.queryAuditLog({ tenantId: s.tenant.id, continuationToken: token }),
        Buffer.from(token, "base64url").toString(),
      ).rejects.toMatchObject({
        kind: "invalid",
        message: "continuationToken is not one this service issued",
      });
    }
  });

  it("a log longer than one read batch (1,000 events) verifies and exports whole", async () => {
    const s = await seedTenant(issuer.store);
    const base = await headSeq(s.tenant.id);
    const extra = 1001 - base;
    await issuer.store.db.transaction(async (tx) => {
      for (let i = 0; i < extra; i++)
        await appendAuditEvent(issuer.store.ctx, tx, {
          tenantId: s.tenant.id,
          organization: null,
          actor: SYSTEM_ACTOR,
          actionId: "Token.PatExpiredEvent",
          details: `event ${i}`,
          data: {},
        });
    });
    expect(await issuer.store.verifyAuditChain(s.tenant.id)).toMatchObject({
      ok: true,
      checked: 1001,
      lastSeq: 1001,
    });
    const seqs: number[] = [];
    for await (const line of issuer.store.exportAuditLog(s.tenant.id)) seqs.push(JSON.parse(line).seq);
    expect(seqs).toEqual(Array.from({ length: 1001 }, (_, i) => i + 1));
  });
});

/**
 * Test setup, not an attack: moves a tenant's log `days` into the past and signs it again with the store's own
 * key, as if it had been written then (the database clock cannot be moved).
 */
async function backdateLog(tenantId: string, days: number) {
  const key = issuer.store.ctx.auditKeys.chain;
  const events: (AuditEvent & { timestamp: string })[] = [];
  for await (const line of issuer.store.exportAuditLog(tenantId)) events.push(JSON.parse(line));
  await issuer.store.db.transaction(async (tx) => {
    await tx.query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only");
    let prevHash = events[0]?.prevHash;
    for (const e of events) {
      const timestamp = new Date(new Date(e.timestamp).getTime() - days * 86_400_000);
      const { hash: _hash, ...rest } = { ...e, timestamp, prevHash } as AuditEvent;
      const hash = auditEventHash(rest, key);
      await tx.query(
        "UPDATE audit_events SET occurred_at = $3, prev_hash = $4, hash = $5 WHERE tenant_id = $1 AND seq = $2",
        [tenantId, e.seq, timestamp, prevHash, hash],
      );
      prevHash = hash;
    }
    await tx.query("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
  });
}
