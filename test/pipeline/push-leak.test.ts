/**
 * The product's main job, end to end on real parts: a PAT issued through the API is pushed to a repository on
 * the fake GitHub, GitHub's signed push webhook arrives, and patrol revokes the PAT, mails its owner once and
 * writes the audit events — with no token anywhere at rest. On PGlite, or PostgreSQL when DATABASE_URL is set.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintAzdo } from "../../src/tokens/index.js";
import { type FakeGitHub, type FakeRepository, startFakeGitHub } from "../support/fake-github/index.js";
import {
  auditActions,
  createTenant,
  eventually,
  type IncidentView,
  issuePat,
  listIncidents,
  patStatus,
  queuesIdle,
  startTestPatrol,
  type TestPatrol,
} from "../support/patrol.js";
import { type CapturedMail, type SmtpCapture, startSmtpCapture } from "../support/smtp.js";

const SECRET = randomBytes(20).toString("hex");

let gh: FakeGitHub;
let smtp: SmtpCapture;
let patrol: TestPatrol;
let webhookUrl: string;
const tokensSeen: string[] = [];

beforeAll(async () => {
  gh = await startFakeGitHub();
  smtp = await startSmtpCapture();
  patrol = await startTestPatrol({ ...gh.env(SECRET), SMTP_URL: smtp.url, SCAN_MAX_BLOB_BYTES: "2000000" });
  webhookUrl = `${patrol.url}/api/github/webhooks`;
}, 120_000);

afterAll(async () => {
  await patrol?.stop();
  await smtp?.close();
  await gh?.close();
});

async function pushed(
  repo: FakeRepository,
  files: Record<string, string | Buffer>,
  options: { branch?: string } = {},
) {
  const before = (await repo.tip(options.branch)) ?? undefined;
  const after = await repo.commit({ files, branch: options.branch, message: "add config" });
  const payload = await repo.pushPayload({ before, after, branch: options.branch });
  const delivery = await gh.deliver({ url: webhookUrl, event: "push", payload, secret: SECRET });
  return { after, payload, delivery };
}

function mailsTo(email: string): CapturedMail[] {
  return smtp.messages.filter((m) => m.to.includes(email));
}

const incidents = (tenant: string) => listIncidents(patrol, tenant);

const audit = (tenant: string) => auditActions(patrol, tenant);

describe("a PAT pushed to a public repository", () => {
  it("is revoked, its owner mailed once, the audit log written, and the incident listed — in every form", async () => {
    const who = await createTenant(patrol, "acme");
    const plain = await issuePat(patrol, who, "plain");
    const inUrl = await issuePat(patrol, who, "in-url");
    const basic = await issuePat(patrol, who, "basic-header");
    const npmrc = await issuePat(patrol, who, "npmrc");
    tokensSeen.push(plain.token, inUrl.token, basic.token, npmrc.token);
    for (const pat of [plain, inUrl, basic, npmrc])
      expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);

    const repo = await gh.createRepo("acme-dev", "service");
    await repo.commit({ message: "init", files: { "README.md": "# service\n" } });
    const { after, delivery } = await pushed(repo, {
      "deploy/env.sh": `export AZURE_DEVOPS_EXT_PAT=${plain.token}\n`,
      "scripts/clone.sh": `git clone https://build:${inUrl.token}@dev.azure.com/acme/_git/service\n`,
      "ci/pipeline.yml": `headers:\n  Authorization: Basic ${Buffer.from(`:${basic.token}`).toString("base64")}\n`,
      ".npmrc": `//pkgs.dev.azure.com/acme/_packaging/feed/npm/registry/:_password=${Buffer.from(npmrc.token).toString("base64")}\n`,
    });
    expect(delivery.statusCode).toBe(202);

    for (const pat of [plain, inUrl, basic, npmrc])
      await eventually(
        "the PAT to stop working",
        async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
      );
    await eventually("four mails", async () => mailsTo(who.email).length >= 4);
    await new Promise((r) => setTimeout(r, 300));
    const mails = mailsTo(who.email);
    expect(mails).toHaveLength(4);
    for (const mail of mails) {
      expect(mail.to).toEqual([who.email]);
      expect(mail.text).toContain("acme-dev/service");
      expect(mail.text).toContain("patrol revoked the token");
      expect(mail.html).toContain("acme-dev/service");
      for (const token of tokensSeen) expect(mail.raw.toString("utf8")).not.toContain(token);
    }
    expect(mails.map((m) => m.subject).sort()).toEqual(
      ["basic-header", "in-url", "npmrc", "plain"].map(
        (n) => `Your personal access token "${n}" was found in a public repository`,
      ),
    );
    const plainMail = mails.find((m) => m.subject.includes('"plain"'))!;
    expect(plainMail.text).toContain(`${plain.token.slice(0, 4)}…${plain.token.slice(-4)}`);
    expect(plainMail.text).toContain(`${repo.htmlUrl}/commit/${after}`);
    expect(plainMail.text).toContain("deploy/env.sh, line 1");

    const events = await audit("acme");
    for (const pat of [plain, inUrl, basic, npmrc]) {
      const mine = events.filter((e) => e.data.authorizationId === pat.authorizationId);
      expect(mine.filter((e) => e.actionId === "Token.PatPublicDiscoveryEvent")).toHaveLength(1);
      expect(mine.filter((e) => e.actionId === "Token.PatSystemRevokeEvent")).toHaveLength(1);
    }
    const discovery = events.find(
      (e) =>
        e.actionId === "Token.PatPublicDiscoveryEvent" && e.data.authorizationId === plain.authorizationId,
    )!;
    expect(discovery.data).toMatchObject({ commit: after, path: "deploy/env.sh", line: 1 });

    const listed = await incidents("acme");
    expect(listed).toHaveLength(4);
    const incident = listed.find((i) => i.authorizationId === plain.authorizationId)!;
    expect(incident.state).toBe("revoked");
    expect(incident.mail.status).toBe("sent");
    expect(incident.locations).toEqual([
      expect.objectContaining({
        repository: "acme-dev/service",
        commit: after,
        path: "deploy/env.sh",
        line: 1,
        permalink: `${repo.htmlUrl}/blob/${after}/deploy/env.sh#L1`,
        source: "push",
      }),
    ]);
    const one = await patrol.admin("GET", `/_apis/patrol/incidents/${incident.id}`);
    expect(((await one.json()) as IncidentView).locations).toHaveLength(1);
  });

  it("with the tenant's auto-revoke policy off: the owner is mailed, the event written, the PAT keeps working", async () => {
    const who = await createTenant(patrol, "lenient", { autoRevoke: false });
    const pat = await issuePat(patrol, who, "kept");
    tokensSeen.push(pat.token);
    const repo = await gh.createRepo("lenient-dev", "tool");
    await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
    const { delivery } = await pushed(repo, { "secrets.env": `PAT=${pat.token}\n` });
    expect(delivery.statusCode).toBe(202);
    const [mail] = await eventually("the mail", async () => {
      const m = mailsTo(who.email);
      return m.length > 0 ? m : null;
    });
    expect(mail.text).toContain("NOT revoked");
    expect(mail.text).toContain("Automatically revoke leaked PATs");
    expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);
    const events = await audit("lenient");
    expect(events.map((e) => e.actionId)).toContain("Token.PatPublicDiscoveryEvent");
    expect(events.map((e) => e.actionId)).not.toContain("Token.PatSystemRevokeEvent");
    expect((await incidents("lenient"))[0].state).toBe("notRevokedPolicyOff");
  });

  it("delivered three times: one revocation, one mail, one discovery event", async () => {
    const who = await createTenant(patrol, "thrice");
    const pat = await issuePat(patrol, who, "once");
    tokensSeen.push(pat.token);
    const repo = await gh.createRepo("thrice-dev", "app");
    await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
    const { payload, delivery } = await pushed(repo, { "config.json": `{"pat": "${pat.token}"}\n` });
    for (let i = 0; i < 2; i++) {
      const again = await gh.deliver({
        url: webhookUrl,
        event: "push",
        payload,
        secret: SECRET,
        deliveryId: delivery.guid,
      });
      expect(again.statusCode).toBe(202);
    }
    await eventually(
      "the revocation",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
    );
    await eventually("the mail", async () => mailsTo(who.email).length === 1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(mailsTo(who.email)).toHaveLength(1);
    const events = await audit("thrice");
    expect(events.filter((e) => e.actionId === "Token.PatPublicDiscoveryEvent")).toHaveLength(1);
    expect(events.filter((e) => e.actionId === "Token.PatSystemRevokeEvent")).toHaveLength(1);
    expect(gh.requests.filter((r) => r.path.includes("/thrice-dev/app/compare/"))).toHaveLength(1);
  });

  it("on a new branch and after a force push, through the pushed commits", async () => {
    const who = await createTenant(patrol, "branches");
    const onBranch = await issuePat(patrol, who, "new-branch");
    const forced = await issuePat(patrol, who, "force-push");
    tokensSeen.push(onBranch.token, forced.token);
    const repo = await gh.createRepo("branches-dev", "lib");
    const base = await repo.commit({ message: "init", files: { "a.txt": "a\n" } });

    await repo.createBranch("feature", base);
    const head = await repo.commit({
      branch: "feature",
      files: { "feature.txt": `token ${onBranch.token}\n` },
    });
    const created = await repo.pushPayload({ branch: "feature", after: head });
    expect(created.created).toBe(true);
    expect(
      (await gh.deliver({ url: webhookUrl, event: "push", payload: created, secret: SECRET })).statusCode,
    ).toBe(202);
    await eventually(
      "the new branch's PAT revoked",
      async () => (await patStatus(patrol, who.organization, onBranch.token)) === 401,
    );
    expect(gh.requests.some((r) => r.path.includes(`/branches-dev/lib/commits/${head}`))).toBe(true);

    const old = await repo.commit({ files: { "b.txt": "b\n" } });
    const rewritten = await repo.commit({ from: base, files: { "c.txt": `x=${forced.token}\n` } });
    const force = await repo.pushPayload({ before: old, after: rewritten });
    expect(force.forced).toBe(true);
    expect(
      (await gh.deliver({ url: webhookUrl, event: "push", payload: force, secret: SECRET })).statusCode,
    ).toBe(202);
    await eventually(
      "the force-pushed PAT revoked",
      async () => (await patStatus(patrol, who.organization, forced.token)) === 401,
    );
    expect(gh.requests.some((r) => r.path.includes(`/branches-dev/lib/commits/${rewritten}`))).toBe(true);
  });

  it("in a push of more than 300 files, through each commit's own file list", async () => {
    const who = await createTenant(patrol, "wide");
    const pat = await issuePat(patrol, who, "file-301");
    tokensSeen.push(pat.token);
    const repo = await gh.createRepo("wide-dev", "mono");
    await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
    const files: Record<string, string> = {};
    for (let i = 0; i < 320; i++) files[`pkg/f${String(i).padStart(3, "0")}.txt`] = `file ${i}\n`;
    files["pkg/f319.txt"] = `token=${pat.token}\n`;
    const { after } = await pushed(repo, files);
    await eventually(
      "the PAT revoked",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
    );
    expect(gh.requests.some((r) => r.path.includes(`/wide-dev/mono/commits/${after}`))).toBe(true);
    const [incident] = await incidents("wide");
    expect(incident.locations[0]).toMatchObject({ path: "pkg/f319.txt", line: 1 });
  });

  it("in binary and large files, through their blobs; a blob over the size cap is skipped and counted", async () => {
    const who = await createTenant(patrol, "blobs");
    const inBinary = await issuePat(patrol, who, "in-binary");
    const inLarge = await issuePat(patrol, who, "in-large");
    const tooLarge = await issuePat(patrol, who, "too-large");
    tokensSeen.push(inBinary.token, inLarge.token, tooLarge.token);
    const repo = await gh.createRepo("blobs-dev", "assets");
    await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
    const binary = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]),
      Buffer.from(`\n${inBinary.token}\n`),
      Buffer.alloc(64),
    ]);
    const large = `${`${"x".repeat(100)}\n`.repeat(1500)}pat=${inLarge.token}\n`; // 150 KB: over the fake's patch limit
    const huge = `${`${"y".repeat(100)}\n`.repeat(21_000)}pat=${tooLarge.token}\n`; // 2.1 MB: over SCAN_MAX_BLOB_BYTES
    const previousPatchBytes = gh.limits.patchBytes;
    gh.limits.patchBytes = 100_000;
    try {
      await pushed(repo, { "logo.png": binary, "data/large.txt": large, "data/huge.txt": huge });
      await eventually(
        "the binary's PAT revoked",
        async () => (await patStatus(patrol, who.organization, inBinary.token)) === 401,
      );
      await eventually(
        "the large file's PAT revoked",
        async () => (await patStatus(patrol, who.organization, inLarge.token)) === 401,
      );
    } finally {
      gh.limits.patchBytes = previousPatchBytes;
    }
    expect(
      gh.requests.filter((r) => r.path.includes("/blobs-dev/assets/git/blobs/")).length,
    ).toBeGreaterThanOrEqual(3);
    expect(await patStatus(patrol, who.organization, tooLarge.token)).toBe(200);
    const metrics = await (await fetch(`${patrol.url}/metrics`)).text();
    expect(metrics).toMatch(/patrol_scan_files_skipped_total\{reason="too-large"\} [1-9]/);
    const [large1] = (await incidents("blobs")).filter((i) => i.locations[0].path === "data/large.txt");
    expect(large1.locations[0].line).toBe(1501);
    // Two PATs revoked, two mails (waited for, so they cannot land in the next test's mail count).
    await eventually("the two mails", async () => mailsTo(who.email).length === 2);
  });

  it("a token that is not ours is looked up, counted and forgotten", async () => {
    const stranger = mintAzdo();
    tokensSeen.push(stranger);
    const repo = await gh.createRepo("strangers", "repo");
    await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
    // Earlier tests' notices may still be on their way: start from quiet queues.
    const queues = patrol.service.queues;
    const idle = () => queuesIdle(patrol);
    await eventually("the queues to drain", idle);
    const before = smtp.messages.length;
    const respondedBefore = (await queues.respond.getJobCounts("completed")).completed;
    const { delivery } = await pushed(repo, { "k.txt": `key ${stranger}\n` });
    expect(delivery.statusCode).toBe(202);
    await eventually(
      "the scan and the look-up to finish",
      async () =>
        (await queues.respond.getJobCounts("completed")).completed > respondedBefore && (await idle()),
    );
    const metrics = await (await fetch(`${patrol.url}/metrics`)).text();
    expect(metrics).toMatch(/patrol_store_lookups_total\{result="none"\} [1-9]/);
    expect(smtp.messages.length).toBe(before);
    const all = await patrol.admin("GET", "/_apis/patrol/incidents?$top=500");
    const body = (await all.json()) as { value: { locations: { repository: string }[] }[] };
    expect(body.value.some((i) => i.locations.some((l) => l.repository === "strangers/repo"))).toBe(false);
  });

  it("under GitHub's primary rate limit: the scan waits in the delayed set, not in a worker, and runs after the reset", async () => {
    const who = await createTenant(patrol, "limited");
    const pat = await issuePat(patrol, who, "rate-limited");
    tokensSeen.push(pat.token);
    const repo = await gh.createRepo("limited-dev", "app");
    await repo.commit({ message: "init", files: { "README.md": "# app\n" } });
    const resetAt = Date.now() + 3000;
    const fault = gh.faults.add({ kind: "primary-rate-limit", resetInSeconds: 3, path: /\/compare\// });
    const { delivery } = await pushed(repo, { "env.sh": `PAT=${pat.token}\n` });
    expect(delivery.statusCode).toBe(202);
    const job = (await patrol.service.queues.scan.getJob(`push-${delivery.guid}`))!;
    await eventually("the scan to meet the limit", async () => fault.hits > 0);
    await eventually("the scan to be delayed", async () => (await job.getState()) === "delayed");
    // Waiting in the delayed set, not in a worker slot (Probot's Octokit would sleep in-process until the reset).
    expect((await patrol.service.queues.scan.getJobCounts("active")).active).toBe(0);
    await eventually(
      "the PAT to stop working",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
      15_000,
    );
    const done = (await patrol.service.queues.scan.getJob(`push-${delivery.guid}`))!;
    expect(await done.getState()).toBe("completed");
    // No attempt spent on the wait, one refused request, and not run again before the reset.
    expect(done.attemptsMade).toBe(1);
    expect(fault.hits).toBe(1);
    expect(done.finishedOn!).toBeGreaterThanOrEqual(resetAt);
    await eventually("the mail", async () => mailsTo(who.email).length === 1);
    const metrics = await (await fetch(`${patrol.url}/metrics`)).text();
    expect(metrics).toMatch(/patrol_rate_limit_delays_total\{queue="scan",limit="primary"\} 1\b/);
    fault.remove();
  });

  it("under a secondary rate limit: the scan is delayed for its retry-after, then runs", async () => {
    const who = await createTenant(patrol, "slowed");
    const pat = await issuePat(patrol, who, "secondary-limited");
    tokensSeen.push(pat.token);
    const repo = await gh.createRepo("slowed-dev", "app");
    await repo.commit({ message: "init", files: { "README.md": "# app\n" } });
    const fault = gh.faults.add({
      kind: "secondary-rate-limit",
      status: 429,
      retryAfterSeconds: 2,
      times: 1,
      path: /\/compare\//,
    });
    const since = Date.now();
    const { delivery } = await pushed(repo, { "env.sh": `PAT=${pat.token}\n` });
    const job = (await patrol.service.queues.scan.getJob(`push-${delivery.guid}`))!;
    await eventually("the scan to be delayed", async () => (await job.getState()) === "delayed");
    await eventually(
      "the PAT to stop working",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
      15_000,
    );
    const done = (await patrol.service.queues.scan.getJob(`push-${delivery.guid}`))!;
    expect([await done.getState(), done.attemptsMade, fault.hits]).toEqual(["completed", 1, 1]);
    // Not retried before GitHub's retry-after (Octokit's own retry would have come back after 1 s).
    const compares = gh.requests.filter((r) => r.path.includes("/slowed-dev/app/compare/"));
    expect(compares.map((r) => r.status)).toEqual([429, 200]);
    expect(done.finishedOn! - since).toBeGreaterThanOrEqual(2000);
    const metrics = await (await fetch(`${patrol.url}/metrics`)).text();
    expect(metrics).toMatch(/patrol_rate_limit_delays_total\{queue="scan",limit="secondary"\} 1\b/);
  });

  it("leaves no token in Redis, the database, the metrics or the incidents API", async () => {
    expect(tokensSeen.length).toBeGreaterThan(8);
    const redis = new Redis(patrol.service.redisUrl);
    try {
      const prefix = (patrol.service.queues.scan.opts.prefix as string) ?? "";
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(10);
      let dump = "";
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === "string") dump += await redis.get(key);
        else if (type === "hash") dump += JSON.stringify(await redis.hgetall(key));
        else if (type === "list") dump += (await redis.lrange(key, "0", "-1")).join("\n");
        else if (type === "set") dump += (await redis.smembers(key)).join("\n");
        else if (type === "zset") dump += (await redis.zrange(key, "0", "-1")).join("\n");
        else if (type === "stream") dump += JSON.stringify(await redis.xrange(key, "-", "+"));
      }
      expect(dump).toContain("fingerprint");
      for (const token of tokensSeen) expect(dump).not.toContain(token);
    } finally {
      redis.disconnect();
    }
    const db = patrol.service.store.db;
    const tables = ["leak_incidents", "leak_incident_locations", "audit_events", "pats"];
    for (const table of tables) {
      const { rows } = await db.query(`SELECT * FROM ${table}`);
      const text = JSON.stringify(rows);
      for (const token of tokensSeen) expect(text).not.toContain(token);
    }
    const pages = [
      await (await fetch(`${patrol.url}/metrics`)).text(),
      await (await patrol.admin("GET", "/_apis/patrol/incidents?$top=500")).text(),
    ];
    for (const page of pages) for (const token of tokensSeen) expect(page).not.toContain(token);
  });
});
