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
});
