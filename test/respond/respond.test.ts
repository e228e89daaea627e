/**
 * The response to a leak on a real store (PGlite, or PostgreSQL with DATABASE_URL): the policy's decision, the
 * incident with its locations, the audit events, once whatever is retried; the owner's notice, once; the
 * fingerprint look-ups batched; the outbox when no SMTP server is configured.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mails, pushToRevokedSeconds, revocations, storeLookups } from "../../src/metrics/index.js";
import {
  createMailer,
  decideAction,
  FingerprintLookup,
  type LeakReport,
  type Mailer,
  type OutgoingMail,
  respondToLeak,
  sendLeakNotice,
} from "../../src/respond/index.js";
import { fingerprint, redact } from "../../src/tokens/index.js";
import { asUser, inDays, openTestIssuer, seedTenant, type TestIssuer } from "../support/issuer.js";

const silent = pino({ level: "silent" });
let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await openTestIssuer();
});
afterAll(async () => {
  await issuer.close();
});

function reportFor(
  token: string,
  locations = 1,
  correlationId = "c0ffee00-0000-4000-8000-000000000001",
): LeakReport {
  return {
    fingerprint: fingerprint(token),
    format: "azdo-pat",
    checksumValid: true,
    redacted: redact(token),
    source: "push",
    locations: Array.from({ length: locations }, (_, i) => ({
      repository: "octo/app",
      commit: "a".repeat(40),
      path: `src/file${i}.ts`,
      line: i + 1,
      url: `https://github.com/octo/app/blob/${"a".repeat(40)}/src/file${i}.ts#L${i + 1}`,
    })),
    correlationId,
    receivedAt: Date.now() - 100,
  };
}

/** A mailer that keeps what it is asked to send (the SMTP path has its own end-to-end test). */
function keepingMailer(): Mailer & { sent: OutgoingMail[]; failNext: number } {
  const state = {
    kind: "smtp" as const,
    sent: [] as OutgoingMail[],
    failNext: 0,
    async send(mail: OutgoingMail) {
      if (state.failNext > 0) {
        state.failNext--;
        throw new Error("451 try again later");
      }
      state.sent.push(mail);
    },
    close() {},
  };
  return state;
}

async function auditCount(tenantId: string, actionId: string): Promise<number> {
  const { rows } = await issuer.store.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND action_id = $2",
    [tenantId, actionId],
  );
  return rows[0].n;
}

describe("respondToLeak", () => {
  it("revokes under the default policy, records every location and event once, however often it runs", async () => {
    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "deploy",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    const report = reportFor(pat.token, 3);
    const first = await respondToLeak(deps, report);
    expect(first).toEqual({ ours: true, action: "revoked", revokedNow: true, newLocations: 3, notify: true });
    for (let i = 0; i < 3; i++) {
      const again = await respondToLeak(deps, report);
      expect(again).toMatchObject({ ours: true, action: "revoked", revokedNow: false, newLocations: 0 });
    }
    expect((await issuer.store.authenticatePat(pat.token)).ok).toBe(false);
    const incident = await issuer.store.getIncident(fingerprint(pat.token));
    expect(incident).toMatchObject({ action: "revoked", redacted: redact(pat.token) });
    expect(incident!.locations).toHaveLength(3);
    expect(await auditCount(t.tenant.id, "Token.PatPublicDiscoveryEvent")).toBe(3);
    expect(await auditCount(t.tenant.id, "Token.PatSystemRevokeEvent")).toBe(1);
  });

  it("keeps the PAT working when the policy is off or the owner is exempt, and says which", async () => {
    const off = await seedTenant(issuer.store);
    await issuer.store.setTenantPolicies(off.tenant.name, { autoRevokeLeakedPats: false }, asUser(off.admin));
    const offPat = await issuer.store.createPat({
      organization: off.org.name,
      displayName: "kept",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(off.alice),
    });
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    expect(await respondToLeak(deps, reportFor(offPat.token))).toMatchObject({
      action: "notRevokedPolicyOff",
      revokedNow: false,
      notify: true,
    });
    expect((await issuer.store.authenticatePat(offPat.token)).ok).toBe(true);
    expect(await auditCount(off.tenant.id, "Token.PatSystemRevokeEvent")).toBe(0);
    expect(await auditCount(off.tenant.id, "Token.PatPublicDiscoveryEvent")).toBe(1);

    const exempt = await seedTenant(issuer.store);
    await issuer.store.setAllowlist(
      { tenant: exempt.tenant.name, policy: "autoRevokeLeakedPats" },
      { users: ["bob@example.com"] },
      asUser(exempt.admin),
    );
    const bobs = await issuer.store.createPat({
      organization: exempt.org.name,
      displayName: "bobs",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(exempt.bob),
    });
    expect(await respondToLeak(deps, reportFor(bobs.token))).toMatchObject({ action: "notRevokedExempt" });
    expect((await issuer.store.authenticatePat(bobs.token)).ok).toBe(true);
  });

  it("remembers nothing of a token that is not ours", async () => {
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    const stranger = reportFor(`${"x".repeat(52)}JQQJ99BCAAAAAAAAAAAAAAAAAZDO1xwm`);
    expect(await respondToLeak(deps, stranger)).toEqual({ ours: false });
    expect(await issuer.store.getIncident(stranger.fingerprint)).toBeNull();
  });

  it("decides from status and policy", () => {
    const base = { status: "active", shouldAutoRevoke: true, tenant: { autoRevokeLeakedPats: true } };
    expect(decideAction(base as never)).toBe("revoke");
    expect(decideAction({ ...base, status: "revoked" } as never)).toBe("alreadyInactive");
    expect(decideAction({ ...base, status: "expired" } as never)).toBe("alreadyInactive");
    expect(decideAction({ ...base, shouldAutoRevoke: false } as never)).toBe("notRevokedExempt");
    expect(
      decideAction({ ...base, shouldAutoRevoke: false, tenant: { autoRevokeLeakedPats: false } } as never),
    ).toBe("notRevokedPolicyOff");
  });
});

/** A counter's value for one label set (the metrics are process-wide, so tests compare before and after). */
async function counted(counter: typeof revocations | typeof storeLookups, labels: Record<string, string>) {
  const { values } = await counter.get();
  const key = Object.entries(labels);
  return (
    values.find((v) => key.every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))?.value ??
    0
  );
}

async function revokeLatency(): Promise<{ count: number; sum: number }> {
  const { values } = await pushToRevokedSeconds.get();
  const of = (name: string) => values.find((v) => v.metricName === name)?.value ?? 0;
  return { count: of("patrol_push_to_revoked_seconds_count"), sum: of("patrol_push_to_revoked_seconds_sum") };
}

describe("what respondToLeak records, says and counts", () => {
  it("points the discovery at the repository, names the first place in the revoke reason, and counts it", async () => {
    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "where",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger };
    const report = reportFor(pat.token, 2, "c0ffee00-0000-4000-8000-0000000000aa");
    report.locations[0].commit = `${"0123456789abcdef".repeat(2)}01234567`;
    report.locations[0].url = `https://github.com/octo/app/blob/${report.locations[0].commit}/src/file0.ts#L1`;
    report.locations[1].url = null;
    report.receivedAt = Date.now() - 250;
    const before = {
      match: await counted(storeLookups, { result: "match" }),
      none: await counted(storeLookups, { result: "none" }),
      revoked: await counted(revocations, { action: "revoked" }),
      latency: await revokeLatency(),
    };
    expect(await respondToLeak(deps, report)).toMatchObject({ action: "revoked", revokedNow: true });

    const events = (await issuer.store.queryAuditLog({ tenantId: t.tenant.id })).entries;
    const discoveries = events.filter((e) => e.actionId === "Token.PatPublicDiscoveryEvent");
    // A permalink gives the repository's URL; without one, the `owner/name` is what there is.
    expect(discoveries.map((e) => e.data.repositoryUrl).sort()).toEqual([
      "https://github.com/octo/app",
      "octo/app",
    ]);
    expect(discoveries.map((e) => e.data.source)).toEqual(["push", "push"]);
    expect(discoveries.find((e) => e.data.line === 1)?.data).toMatchObject({
      commit: report.locations[0].commit,
      path: "src/file0.ts",
      url: report.locations[0].url,
    });
    const revokeEvent = events.find((e) => e.actionId === "Token.PatSystemRevokeEvent");
    const reason = "leaked in a public repository (octo/app@0123456789ab); revoked by patrol";
    expect(revokeEvent?.data.reason).toBe(reason);
    for (const event of [...discoveries, revokeEvent])
      expect(event?.correlationId).toBe(report.correlationId);
    const revoked = await issuer.store.getPat({
      organization: t.org.name,
      authorizationId: pat.pat.authorizationId,
      actor: asUser(t.alice),
    });
    expect(revoked).toMatchObject({ status: "revoked", revokeReason: reason });

    // The operator's figures: one match, one revocation, one push-to-revoked time of at least the 250 ms.
    expect(await counted(storeLookups, { result: "match" })).toBe(before.match + 1);
    expect(await counted(storeLookups, { result: "none" })).toBe(before.none);
    expect(await counted(revocations, { action: "revoked" })).toBe(before.revoked + 1);
    const latency = await revokeLatency();
    expect(latency.count).toBe(before.latency.count + 1);
    expect(latency.sum - before.latency.sum).toBeGreaterThanOrEqual(0.25);
    expect(latency.sum - before.latency.sum).toBeLessThan(60);
    // The log line says what was done with which token, by fingerprint only.
    const handled = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "leaked PAT handled");
    expect(handled).toMatchObject({
      fingerprint: report.fingerprint,
      authorizationId: pat.pat.authorizationId,
      action: "revoked",
      revokedNow: true,
      newLocations: 2,
    });
    expect(lines.join("\n")).not.toContain(pat.token);

    // A retry counts the look-up again, but neither a second revocation nor a second latency.
    await respondToLeak(deps, report);
    expect(await counted(revocations, { action: "revoked" })).toBe(before.revoked + 1);
    expect((await revokeLatency()).count).toBe(before.latency.count + 1);
    const stranger = reportFor(`${"y".repeat(52)}JQQJ99BCAAAAAAAAAAAAAAAAAZDO1xwm`);
    await respondToLeak(deps, stranger);
    expect(await counted(storeLookups, { result: "none" })).toBe(before.none + 1);
  });

  it("two deliveries of one leak at once: one revokes, the other sees it done; one revoke time observed and one revocation counted", async () => {
    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "raced",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    // One lookup for both: they are batched into one query and both see the PAT active.
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    const before = await revokeLatency();
    const revokedBefore = await counted(revocations, { action: "revoked" });
    const outcomes = await Promise.all([
      respondToLeak(deps, reportFor(pat.token, 1, "c0ffee00-0000-4000-8000-0000000000c1")),
      respondToLeak(deps, reportFor(pat.token, 1, "c0ffee00-0000-4000-8000-0000000000c2")),
    ]);
    expect(outcomes.map((o) => o.ours && o.revokedNow).sort()).toEqual([false, true]);
    expect(outcomes.map((o) => o.ours && o.action)).toEqual(["revoked", "revoked"]);
    expect((await revokeLatency()).count).toBe(before.count + 1);
    expect(await counted(revocations, { action: "revoked" })).toBe(revokedBefore + 1);
    expect(await auditCount(t.tenant.id, "Token.PatSystemRevokeEvent")).toBe(1);
  });

  it("a partner alert's link that names no repository path is kept whole as the discovery's location", async () => {
    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "gist",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    const report = { ...reportFor(pat.token), source: "secret-scanning" as const };
    report.locations = [
      {
        repository: "unknown",
        commit: "0".repeat(40),
        path: "unknown",
        line: 1,
        url: "https://gist.github.com/octo/1234",
      },
    ];
    await respondToLeak(deps, report);
    const [event] = (
      await issuer.store.queryAuditLog({ tenantId: t.tenant.id, actionId: "Token.PatPublicDiscoveryEvent" })
    ).entries;
    expect(event.data).toMatchObject({
      repositoryUrl: "https://gist.github.com/octo/1234",
      url: "https://gist.github.com/octo/1234",
      source: "secret-scanning",
    });
  });

  it("a PAT already revoked or expired is left alone and recorded as already inactive", async () => {
    const t = await seedTenant(issuer.store);
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    const revokedByUser = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "gone",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    await issuer.store.revokePat({
      organization: t.org.name,
      authorizationId: revokedByUser.pat.authorizationId,
      actor: asUser(t.alice),
    });
    const expiring = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "old",
      scope: "vso.code",
      validTo: inDays(issuer, 1),
      actor: asUser(t.alice),
    });
    issuer.clock.advance(2 * 86_400_000);
    try {
      const before = await counted(revocations, { action: "alreadyInactive" });
      for (const token of [revokedByUser.token, expiring.token]) {
        expect(await respondToLeak(deps, reportFor(token))).toEqual({
          ours: true,
          action: "alreadyInactive",
          revokedNow: false,
          newLocations: 1,
          notify: true,
        });
        expect(await issuer.store.getIncident(fingerprint(token))).toMatchObject({
          action: "alreadyInactive",
        });
      }
      expect(await counted(revocations, { action: "alreadyInactive" })).toBe(before + 2);
      expect(await auditCount(t.tenant.id, "Token.PatSystemRevokeEvent")).toBe(0);
      expect(await auditCount(t.tenant.id, "Token.PatPublicDiscoveryEvent")).toBe(2);
    } finally {
      issuer.clock.advance(-2 * 86_400_000);
    }
  });

  it("the first decision stands on retries; a later leak after the policy is turned on revokes", async () => {
    const t = await seedTenant(issuer.store);
    await issuer.store.setTenantPolicies(t.tenant.name, { autoRevokeLeakedPats: false }, asUser(t.admin));
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "later",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    const fp = fingerprint(pat.token);
    const kept = await counted(revocations, { action: "notRevokedPolicyOff" });
    expect(await respondToLeak(deps, reportFor(pat.token))).toMatchObject({ action: "notRevokedPolicyOff" });
    const decidedAt = (await issuer.store.getIncident(fp))?.actionAt;
    expect(decidedAt).toBeInstanceOf(Date);
    // Told once: a retry after the mail went out asks for no second notice, and counts nothing again.
    await issuer.store.recordMailSent(fp);
    expect(await respondToLeak(deps, reportFor(pat.token))).toEqual({
      ours: true,
      action: "notRevokedPolicyOff",
      revokedNow: false,
      newLocations: 0,
      notify: false,
    });
    expect(await counted(revocations, { action: "notRevokedPolicyOff" })).toBe(kept + 1);
    expect((await issuer.store.getIncident(fp))?.actionAt).toEqual(decidedAt);

    await issuer.store.setTenantPolicies(t.tenant.name, { autoRevokeLeakedPats: true }, asUser(t.admin));
    const later = reportFor(pat.token, 1, "c0ffee00-0000-4000-8000-0000000000bb");
    later.locations[0].path = "src/later.ts";
    expect(await respondToLeak(deps, later)).toEqual({
      ours: true,
      action: "revoked",
      revokedNow: true,
      newLocations: 1,
      notify: false,
    });
    const incident = await issuer.store.getIncident(fp);
    expect(incident).toMatchObject({ action: "revoked" });
    expect(incident?.locations.map((l) => l.path)).toEqual(["src/file0.ts", "src/later.ts"]);
    expect((await issuer.store.authenticatePat(pat.token)).ok).toBe(false);
  });
});

describe("the owner's notice", () => {
  it("goes to the owner once, retried after a failure, with the facts and without the token", async () => {
    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: 'ci <script>"x"',
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    const deps = { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent };
    await respondToLeak(deps, reportFor(pat.token, 12));
    const mailer = keepingMailer();
    mailer.failNext = 1;
    const fp = fingerprint(pat.token);
    await expect(sendLeakNotice({ store: issuer.store, mailer, logger: silent }, fp)).rejects.toThrow(/451/);
    const failing = await issuer.store.getIncident(fp);
    expect(failing!.mailedAt).toBeNull();
    expect(failing!.mail).toMatchObject({ attempts: 1, lastError: "451 try again later" });
    expect(await sendLeakNotice({ store: issuer.store, mailer, logger: silent }, fp)).toBe("sent");
    expect(await sendLeakNotice({ store: issuer.store, mailer, logger: silent }, fp)).toBe("alreadySent");
    expect(mailer.sent).toHaveLength(1);
    const [mail] = mailer.sent;
    const incident = await issuer.store.getIncident(fp);
    expect(incident!.mail).toMatchObject({ attempts: 2, lastError: null });
    expect(mail.to).toBe("alice@example.com");
    expect(mail.messageId).toBe(`<incident-${incident!.id}@patrol>`);
    expect(mail.text).toContain(redact(pat.token));
    expect(mail.text).toContain("octo/app");
    expect(mail.text).toContain(`https://github.com/octo/app/commit/${"a".repeat(40)}`);
    expect(mail.text).toContain("src/file0.ts, line 1");
    expect(mail.text).toContain("… and 2 more places.");
    expect(mail.text).toContain("patrol revoked the token");
    expect(mail.html).toContain("ci &lt;script&gt;&quot;x&quot;");
    expect(mail.html).not.toContain("<script>");
    for (const part of [mail.subject, mail.text, mail.html]) expect(part).not.toContain(pat.token);
  });

  it("is not sent twice when the database fails just after the SMTP server took it", async () => {
    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "db away",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    await respondToLeak(
      { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent },
      reportFor(pat.token),
    );
    const fp = fingerprint(pat.token);
    const mailer = keepingMailer();
    // The real store, but the first two attempts to record the sent mail fail as a lost connection does.
    let failures = 2;
    const store = Object.assign(Object.create(issuer.store) as typeof issuer.store, {
      recordMailSent: (f: string) =>
        failures-- > 0
          ? Promise.reject(new Error("Connection terminated unexpectedly"))
          : issuer.store.recordMailSent(f),
    });
    expect(await sendLeakNotice({ store, mailer, logger: silent }, fp)).toBe("sent");
    expect(failures).toBe(-1);
    expect(await sendLeakNotice({ store, mailer, logger: silent }, fp)).toBe("alreadySent");
    expect(mailer.sent).toHaveLength(1);
    const incident = await issuer.store.getIncident(fp);
    expect(incident!.mailedAt).not.toBeNull();
    expect(incident!.mail).toMatchObject({ attempts: 1, lastError: null });
  });

  it("gives up recording after its time limit, so the job (not the worker) waits out a long outage", async () => {
    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "db gone",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    await respondToLeak(
      { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent },
      reportFor(pat.token),
    );
    const store = Object.assign(Object.create(issuer.store) as typeof issuer.store, {
      recordMailSent: () => Promise.reject(new Error("Connection terminated unexpectedly")),
    });
    await expect(
      sendLeakNotice(
        { store, mailer: keepingMailer(), logger: silent, recordSentForMs: 600 },
        fingerprint(pat.token),
      ),
    ).rejects.toThrow(/Connection terminated/);
  });

  it("is not sent without an incident or an owner; a failure's reason is kept and counted, whatever was thrown", async () => {
    const mailer = keepingMailer();
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
    const deps = { store: issuer.store, mailer, logger };
    const sent = async (result: string) =>
      (await mails.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    // No incident yet.
    expect(await sendLeakNotice(deps, fingerprint(`${"z".repeat(52)}JQQJ99BCAAAAAAAAAAAAAAAAAZDO1xwm`))).toBe(
      "noIncident",
    );
    // An incident of a token that is not (or no longer) ours: nobody to tell.
    const foreign = fingerprint(`${"w".repeat(52)}JQQJ99BCAAAAAAAAAAAAAAAAAZDO1xwm`);
    await issuer.store.recordIncident({
      fingerprint: foreign,
      format: "azdo-pat",
      location: { repository: "x/y", commit: "1", path: "p", line: 1, source: "secret-scanning" },
    });
    expect(await sendLeakNotice(deps, foreign)).toBe("noOwner");
    expect(mailer.sent).toHaveLength(0);

    const t = await seedTenant(issuer.store);
    const pat = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "mailed",
      scope: "vso.code",
      validTo: inDays(issuer, 10),
      actor: asUser(t.alice),
    });
    await respondToLeak(
      { store: issuer.store, lookup: new FingerprintLookup(issuer.store), logger: silent },
      reportFor(pat.token),
    );
    const fp = fingerprint(pat.token);
    const before = { failed: await sent("failed"), sent: await sent("sent") };
    const throwing: Mailer = {
      kind: "smtp",
      async send() {
        throw "ECONNRESET";
      },
      close() {},
    };
    await expect(sendLeakNotice({ ...deps, mailer: throwing }, fp)).rejects.toThrow(
      "mail to the owner failed: ECONNRESET",
    );
    expect((await issuer.store.getIncident(fp))?.mail).toMatchObject({
      attempts: 1,
      lastError: "ECONNRESET",
    });
    expect(await sent("failed")).toBe(before.failed + 1);
    const warned = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "owner notice not sent; will retry");
    expect(warned).toMatchObject({
      reason: "ECONNRESET",
      incident: (await issuer.store.getIncident(fp))?.id,
    });
    expect(await sendLeakNotice(deps, fp)).toBe("sent");
    expect(await sent("sent")).toBe(before.sent + 1);
    expect(await sent("failed")).toBe(before.failed + 1);
    expect((await issuer.store.getIncident(fp))?.mailedAt).toBeInstanceOf(Date);
  });

  it("is written to the outbox as an .eml file when no SMTP server is configured", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "patrol-outbox-"));
    try {
      const outbox = createMailer({
        smtpUrl: undefined,
        from: "patrol <p@x>",
        outboxDir: dir,
        logger: silent,
      });
      expect(outbox.kind).toBe("outbox");
      await outbox.send({
        to: "a@b.example",
        subject: "s",
        text: "hello",
        html: "<p>hello</p>",
        messageId: "<incident-1@patrol>",
      });
      const files = readdirSync(dir);
      expect(files).toEqual(["_incident-1_patrol_.eml"]);
      const eml = readFileSync(path.join(dir, files[0]), "utf8");
      expect(eml).toMatch(/^To: a@b\.example$/m);
      expect(eml).toMatch(/^Message-ID: <incident-1@patrol>$/im);
      expect(eml).toContain("text/html");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("FingerprintLookup", () => {
  it("answers concurrent asks with one query per batch", async () => {
    const t = await seedTenant(issuer.store);
    const pats = [];
    for (let i = 0; i < 5; i++)
      pats.push(
        await issuer.store.createPat({
          organization: t.org.name,
          displayName: `p${i}`,
          scope: "vso.code",
          validTo: inDays(issuer, 10),
          actor: asUser(t.alice),
        }),
      );
    let queries = 0;
    const counting = {
      findByFingerprints: (fps: string[]) => {
        queries++;
        return issuer.store.findByFingerprints(fps);
      },
    };
    const lookup = new FingerprintLookup(counting, { maxBatch: 100, maxWaitMs: 5 });
    const asks = [...pats.map((p) => fingerprint(p.token)), fingerprint(pats[0].token), "f".repeat(64)];
    const answers = await Promise.all(asks.map((fp) => lookup.find(fp)));
    expect(queries).toBe(1);
    expect(answers.slice(0, 5).map((m) => m?.displayName)).toEqual(["p0", "p1", "p2", "p3", "p4"]);
    expect(answers[5]?.authorizationId).toBe(pats[0].pat.authorizationId);
    expect(answers[6]).toBeNull();
    const small = new FingerprintLookup(counting, { maxBatch: 2, maxWaitMs: 5 });
    queries = 0;
    await Promise.all(pats.map((p) => small.find(fingerprint(p.token))));
    expect(queries).toBe(3);
  });

  it("by default, batches at most 500 fingerprints a query", async () => {
    let queries = 0;
    const counting = {
      findByFingerprints: (fps: string[]) => {
        queries++;
        return issuer.store.findByFingerprints(fps);
      },
    };
    const lookup = new FingerprintLookup(counting);
    const asks = Array.from({ length: 501 }, (_, i) => lookup.find(i.toString(16).padStart(64, "0")));
    expect((await Promise.all(asks)).every((m) => m === null)).toBe(true);
    expect(queries).toBe(2);
  });

  it("a failed query fails every ask of its batch, and the next batch asks again", async () => {
    let fail = true;
    const flaky = {
      findByFingerprints: async (fps: string[]) => {
        if (fail) throw new Error("connection terminated");
        return issuer.store.findByFingerprints(fps);
      },
    };
    const lookup = new FingerprintLookup(flaky, { maxBatch: 100, maxWaitMs: 1 });
    const asks = ["a", "b", "a"].map((c) => lookup.find(c.repeat(64)));
    for (const ask of asks) await expect(ask).rejects.toThrow("connection terminated");
    fail = false;
    expect(await lookup.find("a".repeat(64))).toBeNull();
  });
});
