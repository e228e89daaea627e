/**
 * GitHub's secret-scanning partner alerts, end to end on real parts: the fake GitHub serves a generated ECDSA
 * P-256 key (and GitHub's published sample key) at /meta/public_keys/secret_scanning, alerts are signed with it
 * as GitHub signs them, and patrol answers true/false positives, revokes, mails once and writes the audit log.
 * On PGlite, or PostgreSQL when DATABASE_URL is set.
 */
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertLocation } from "../../src/github/index.js";
import { mintAzdo } from "../../src/tokens/index.js";
import {
  createSecretScanningKey,
  type FakeGitHub,
  type PartnerMatch,
  postPartnerAlert,
  type SecretScanningSigner,
  startFakeGitHub,
} from "../support/fake-github/index.js";
import {
  auditActions,
  createTenant,
  eventually,
  issuePat,
  listIncidents,
  patStatus,
  startTestPatrol,
  type TestPatrol,
} from "../support/patrol.js";
import { type CapturedMail, type SmtpCapture, startSmtpCapture } from "../support/smtp.js";

/**
 * GitHub's signed sample request and the public key for its identifier, from GitHub's documentation
 * ("Secret scanning partner program" → "Implement signature verification in your secret alert service",
 * docs.github.com/en/code-security/secret-scanning/secret-scanning-partner-program). Facts, not code.
 */
const GITHUB_SAMPLE = {
  keyIdentifier: "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
  key:
    "-----BEGIN PUBLIC KEY-----\n" +
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\n" +
    "AjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n" +
    "-----END PUBLIC KEY-----\n",
  signature:
    "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==",
  body: '[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]',
};

const TYPE = "azure_devops_personal_access_token";

let gh: FakeGitHub;
let smtp: SmtpCapture;
let patrol: TestPatrol;
let alertUrl: string;
let signer: SecretScanningSigner;
const tokensSeen: string[] = [];

beforeAll(async () => {
  gh = await startFakeGitHub();
  smtp = await startSmtpCapture();
  signer = createSecretScanningKey();
  gh.setSecretScanningKeys([
    signer.publicKey,
    { key_identifier: GITHUB_SAMPLE.keyIdentifier, key: GITHUB_SAMPLE.key, is_current: false },
  ]);
  patrol = await startTestPatrol({ ...gh.env("s3cret-for-webhooks"), SMTP_URL: smtp.url });
  alertUrl = `${patrol.url}/api/github/secret-scanning`;
}, 120_000);

afterAll(async () => {
  await patrol?.stop();
  await smtp?.close();
  await gh?.close();
});

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function mailsTo(email: string): CapturedMail[] {
  return smtp.messages.filter((m) => m.to.includes(email));
}

const audit = (tenant: string) => auditActions(patrol, tenant);

const incidents = (tenant: string) => listIncidents(patrol, tenant);

async function respondJobs(): Promise<number> {
  const counts = await patrol.service.queues.respond.getJobCounts(
    "waiting",
    "active",
    "completed",
    "failed",
    "delayed",
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

async function post(
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const response = await fetch(alertUrl, { method: "POST", headers, body });
  return { status: response.status, body: await response.text() };
}

/** A counter's value on /metrics (0 when the series is not there yet). */
async function counter(name: string, label: string, value: string): Promise<number> {
  const text = await (await fetch(`${patrol.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${label}="${value}"} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

describe("GitHub's secret-scanning partner alerts", () => {
  it("revoke a live PAT, mail its owner once, and write the audit log with the alert's URL", async () => {
    const who = await createTenant(patrol, "alerted");
    const pat = await issuePat(patrol, who, "reported");
    tokensSeen.push(pat.token);
    expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const url = `https://github.com/alerted-dev/app/blob/${sha}/config/settings.yml#L7`;
    const stranger = mintAzdo();
    const positives = await counter("patrol_partner_matches_total", "label", "true_positive");
    const negatives = await counter("patrol_partner_matches_total", "label", "false_positive");
    const response = await postPartnerAlert(alertUrl, signer, [
      { token: stranger, type: TYPE, url: "https://github.com/x/y/blob/abc1234/a#L1", source: "content" },
      { token: pat.token, type: TYPE, url, source: "content" },
    ]);
    expect(response.status).toBe(200);
    expect(await counter("patrol_partner_matches_total", "label", "true_positive")).toBe(positives + 1);
    expect(await counter("patrol_partner_matches_total", "label", "false_positive")).toBe(negatives + 1);
    expect(JSON.parse(response.body)).toEqual([
      { token_hash: sha256(stranger), token_type: TYPE, label: "false_positive" },
      { token_hash: sha256(pat.token), token_type: TYPE, label: "true_positive" },
    ]);

    await eventually(
      "the PAT to stop working",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
    );
    const [mail] = await eventually("the mail", async () => {
      const m = mailsTo(who.email);
      return m.length > 0 ? m : null;
    });
    expect(mail.text).toContain("alerted-dev/app");
    expect(mail.text).toContain(`https://github.com/alerted-dev/app/commit/${sha}`);
    expect(mail.text).toContain("config/settings.yml, line 7");
    expect(mail.text).toContain(url);
    expect(mail.raw.toString("utf8")).not.toContain(pat.token);

    const events = await audit("alerted");
    const discovery = events.filter((e) => e.actionId === "Token.PatPublicDiscoveryEvent");
    expect(discovery).toHaveLength(1);
    expect(discovery[0].data).toMatchObject({
      authorizationId: pat.authorizationId,
      repositoryUrl: "https://github.com/alerted-dev/app",
      commit: sha,
      path: "config/settings.yml",
      line: 7,
      source: "secret-scanning",
      url,
    });
    expect(events.filter((e) => e.actionId === "Token.PatSystemRevokeEvent")).toHaveLength(1);

    const [incident] = await incidents("alerted");
    expect(incident.state).toBe("revoked");
    expect(incident.locations).toEqual([
      expect.objectContaining({
        repository: "alerted-dev/app",
        commit: sha,
        path: "config/settings.yml",
        line: 7,
        source: "secret-scanning",
      }),
    ]);
  });

  it("sent twice: answered the same, and nothing more happens", async () => {
    const who = await createTenant(patrol, "twice");
    const pat = await issuePat(patrol, who, "twice-reported");
    tokensSeen.push(pat.token);
    const matches: PartnerMatch[] = [
      {
        token: pat.token,
        type: TYPE,
        url: "https://github.com/twice-dev/lib/blob/89abcdef0123456789abcdef0123456789abcdef/x.env#L2",
        source: "content",
      },
    ];
    const first = await postPartnerAlert(alertUrl, signer, matches);
    expect(first.status).toBe(200);
    await eventually("the mail", async () => mailsTo(who.email).length === 1);
    const jobs = await respondJobs();
    const second = await postPartnerAlert(alertUrl, signer, matches);
    expect(second.status).toBe(200);
    expect(second.body).toBe(first.body);
    expect(JSON.parse(second.body)[0].label).toBe("true_positive");
    await new Promise((r) => setTimeout(r, 1000));
    expect(await respondJobs()).toBe(jobs);
    expect(mailsTo(who.email)).toHaveLength(1);
    const events = await audit("twice");
    expect(events.filter((e) => e.actionId === "Token.PatPublicDiscoveryEvent")).toHaveLength(1);
    expect(events.filter((e) => e.actionId === "Token.PatSystemRevokeEvent")).toHaveLength(1);
    expect((await incidents("twice"))[0].locations).toHaveLength(1);
  });

  it("with the tenant's auto-revoke policy off: mailed, recorded, the PAT keeps working", async () => {
    const who = await createTenant(patrol, "lenient-ss", { autoRevoke: false });
    const pat = await issuePat(patrol, who, "kept");
    tokensSeen.push(pat.token);
    const response = await postPartnerAlert(alertUrl, signer, [
      { token: pat.token, type: TYPE, url: "https://gist.github.com/someone/abc123", source: "gist" },
    ]);
    expect(JSON.parse(response.body)[0].label).toBe("true_positive");
    const [mail] = await eventually("the mail", async () => {
      const m = mailsTo(who.email);
      return m.length > 0 ? m : null;
    });
    expect(mail.text).toContain("NOT revoked");
    expect(mail.text).toContain("https://gist.github.com/someone/abc123");
    expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);
    const events = await audit("lenient-ss");
    expect(events.map((e) => e.actionId)).toContain("Token.PatPublicDiscoveryEvent");
    expect(events.map((e) => e.actionId)).not.toContain("Token.PatSystemRevokeEvent");
    const [incident] = await incidents("lenient-ss");
    expect(incident.state).toBe("notRevokedPolicyOff");
    // A gist URL names no commit or file: the documented placeholders stand in.
    expect(incident.locations[0]).toMatchObject({
      repository: "someone/abc123",
      commit: "unknown",
      path: "unknown",
      line: 1,
      source: "secret-scanning",
    });
  });

  it("refuses what it cannot verify, and queues nothing for it", async () => {
    const who = await createTenant(patrol, "forged");
    const pat = await issuePat(patrol, who, "forged-target");
    tokensSeen.push(pat.token);
    const body = JSON.stringify([
      { token: pat.token, type: TYPE, url: "https://github.com/f/g", source: "x" },
    ]);
    const jobs = await respondJobs();
    const headers = signer.headers(body);
    const reasons = ["signature", "unknown-key", "headers", "json", "shape", "too-large", "content-type"];
    const refusedBefore = await Promise.all(
      reasons.map((r) => counter("patrol_partner_alerts_refused_total", "reason", r)),
    );

    const tampered = await post(body.replace("f/g", "f/h"), headers);
    expect(tampered.status).toBe(401);
    const garbage = await post(body, { ...headers, "github-public-key-signature": "bm90IGEgc2lnbmF0dXJl" });
    expect(garbage.status).toBe(401);
    const other = createSecretScanningKey();
    const unknown = await post(body, other.headers(body));
    expect(unknown.status).toBe(401);
    expect(unknown.body).toContain("no key");
    const { "github-public-key-signature": _s, ...noSignature } = headers;
    expect((await post(body, noSignature)).status).toBe(400);
    const { "github-public-key-identifier": _i, ...noIdentifier } = headers;
    expect((await post(body, noIdentifier)).status).toBe(400);

    const notJson = "[{not json";
    expect((await post(notJson, signer.headers(notJson))).status).toBe(400);
    const wrongShape = JSON.stringify({ token: pat.token });
    expect((await post(wrongShape, signer.headers(wrongShape))).status).toBe(400);
    const huge = JSON.stringify([
      { token: pat.token, type: TYPE, url: `https://github.com/${"a".repeat(1_100_000)}` },
    ]);
    expect((await post(huge, signer.headers(huge))).status).toBe(413);
    const asText = await post(body, { ...headers, "content-type": "text/plain" });
    expect(asText.status).toBe(415);
    const refusedAfter = await Promise.all(
      reasons.map((r) => counter("patrol_partner_alerts_refused_total", "reason", r)),
    );
    expect(Object.fromEntries(reasons.map((r, i) => [r, refusedAfter[i] - refusedBefore[i]]))).toEqual({
      signature: 2,
      "unknown-key": 1,
      headers: 2,
      json: 1,
      shape: 1,
      "too-large": 1,
      "content-type": 1,
    });

    await new Promise((r) => setTimeout(r, 500));
    expect(await respondJobs()).toBe(jobs);
    expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);
    expect(await incidents("forged")).toEqual([]);
  });

  it("answers false_positive, with the SHA-256 of each, for tokens not ours and strings not PATs", async () => {
    const notOurs = mintAzdo();
    const real = mintAzdo();
    const badChecksum = `${real.slice(0, 80)}${real.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const matches = [notOurs, badChecksum, "ghp_notapat", ""].map((token) => ({
      token,
      type: TYPE,
      url: "https://github.com/a/b/blob/abcdef1/c.txt#L1",
      source: "content",
    }));
    const jobs = await respondJobs();
    const response = await postPartnerAlert(alertUrl, signer, matches);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual(
      matches.map((m) => ({ token_hash: sha256(m.token), token_type: TYPE, label: "false_positive" })),
    );
    expect(await respondJobs()).toBe(jobs);
  });

  it("verifies GitHub's own signed sample request and answers it false_positive", async () => {
    expect(Buffer.byteLength(GITHUB_SAMPLE.body)).toBe(104);
    const response = await post(GITHUB_SAMPLE.body, {
      "content-type": "application/json",
      "github-public-key-identifier": GITHUB_SAMPLE.keyIdentifier,
      "github-public-key-signature": GITHUB_SAMPLE.signature,
    });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual([
      { token_hash: sha256("some_token"), token_type: "some_type", label: "false_positive" },
    ]);
    // One byte more (a trailing newline) and the same signature no longer verifies.
    const withNewline = await post(`${GITHUB_SAMPLE.body}\n`, {
      "content-type": "application/json",
      "github-public-key-identifier": GITHUB_SAMPLE.keyIdentifier,
      "github-public-key-signature": GITHUB_SAMPLE.signature,
    });
    expect(withNewline.status).toBe(401);
  });

  it("fetches GitHub's keys rarely: a flood of unknown identifiers costs at most one more fetch", async () => {
    const keyFetches = () =>
      gh.requests.filter((r) => r.path === "/api/v3/meta/public_keys/secret_scanning").length;
    const before = keyFetches();
    // The first alert fetched them, the unknown identifier above at most once more.
    expect(before).toBeGreaterThanOrEqual(1);
    expect(before).toBeLessThanOrEqual(2);
    const body = JSON.stringify([
      { token: "x", type: TYPE, url: "https://github.com/a/b", source: "content" },
    ]);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => {
        const bogus = createSecretScanningKey();
        return post(body, bogus.headers(body));
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(401));
    expect(keyFetches() - before).toBeLessThanOrEqual(1);
    // Known keys are served from the cache.
    expect((await postPartnerAlert(alertUrl, signer, [])).status).toBe(200);
    expect(keyFetches() - before).toBeLessThanOrEqual(1);
  });

  it("leaves no reported token in Redis or the database", async () => {
    expect(tokensSeen.length).toBeGreaterThanOrEqual(4);
    const redis = new Redis(patrol.service.redisUrl);
    try {
      const prefix = (patrol.service.queues.respond.opts.prefix as string) ?? "";
      let dump = "";
      for (const key of await redis.keys(`${prefix}*`)) {
        const type = await redis.type(key);
        if (type === "string") dump += await redis.get(key);
        else if (type === "hash") dump += JSON.stringify(await redis.hgetall(key));
        else if (type === "list") dump += (await redis.lrange(key, "0", "-1")).join("\n");
        else if (type === "zset") dump += (await redis.zrange(key, "0", "-1")).join("\n");
        else if (type === "stream") dump += JSON.stringify(await redis.xrange(key, "-", "+"));
      }
      expect(dump).toContain("secret-scanning");
      for (const token of tokensSeen) expect(dump).not.toContain(token);
    } finally {
      redis.disconnect();
    }
    for (const table of ["leak_incidents", "leak_incident_locations", "audit_events"]) {
      const { rows } = await patrol.service.store.db.query(`SELECT * FROM ${table}`);
      for (const token of tokensSeen) expect(JSON.stringify(rows)).not.toContain(token);
    }
  });
});

describe("alertLocation", () => {
  it("reads GitHub's blob and commit URLs and fills the rest with the documented placeholders", () => {
    expect(alertLocation("https://github.com/o/r/blob/ABCDEF1/dir/a%20b.txt#L3-L5")).toEqual({
      repository: "o/r",
      commit: "abcdef1",
      path: "dir/a b.txt",
      line: 3,
      url: "https://github.com/o/r/blob/ABCDEF1/dir/a%20b.txt#L3-L5",
    });
    expect(alertLocation("https://github.com/o/r/commit/abcdef1")).toMatchObject({
      repository: "o/r",
      commit: "abcdef1",
      path: "unknown",
      line: 1,
    });
    expect(alertLocation("https://example.com/base-repo-url/")).toMatchObject({
      repository: "example.com",
      commit: "unknown",
      path: "unknown",
      line: 1,
    });
    expect(alertLocation(undefined)).toEqual({
      repository: "unknown",
      commit: "unknown",
      path: "unknown",
      line: 1,
      url: null,
    });
    expect(alertLocation("javascript:alert(1)").url).toBeNull();
  });
});
