/**
 * Whole-history scans end to end on real parts: a private repository on the fake GitHub with a PAT in many
 * commits (added, changed, on other branches and tags) and another only in an old commit since removed goes
 * public; patrol clones it over smart HTTP with the installation token, revokes both PATs and mails each owner
 * once, with one incident holding every location. Redeliveries and later deliveries change nothing; private
 * repositories added to the installation are not scanned; the clone is removed and no token rests in Redis.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScanRepo } from "../../src/cli/scan-repo-command.js";
import { loadConfig } from "../../src/config.js";
import { type FakeGitHub, startFakeGitHub } from "../support/fake-github/index.js";
import {
  createTenant,
  eventually,
  issuePat,
  listIncidents,
  patStatus,
  queuesIdle,
  startTestPatrol,
  type TestPatrol,
} from "../support/patrol.js";
import { type SmtpCapture, startSmtpCapture } from "../support/smtp.js";

const SECRET = randomBytes(20).toString("hex");

let gh: FakeGitHub;
let smtp: SmtpCapture;
let patrol: TestPatrol;
let cloneDir: string;
let webhookUrl: string;

beforeAll(async () => {
  gh = await startFakeGitHub();
  smtp = await startSmtpCapture();
  cloneDir = mkdtempSync(path.join(tmpdir(), "patrol-history-test-"));
  patrol = await startTestPatrol({
    ...gh.env(SECRET),
    SMTP_URL: smtp.url,
    HISTORY_TEMP_DIR: cloneDir,
    HISTORY_MAX_CLONE_BYTES: String(64 * 1024 * 1024),
  });
  webhookUrl = `${patrol.url}/api/github/webhooks`;
}, 120_000);

afterAll(async () => {
  await patrol?.stop();
  await smtp?.close();
  await gh?.close();
  if (cloneDir) rmSync(cloneDir, { recursive: true, force: true });
});

const incidents = (tenant: string) => listIncidents(patrol, tenant);

async function historyJobsFinished(): Promise<number> {
  const counts = await patrol.service.queues.history.getJobCounts("completed", "failed");
  return counts.completed + counts.failed;
}

async function idle() {
  await eventually("the queues to drain", () => queuesIdle(patrol));
}

describe("a repository that goes public", () => {
  it("has its whole history scanned: each PAT revoked and mailed once, one incident with every location", async () => {
    const who = await createTenant(patrol, "hist");
    const live = await issuePat(patrol, who, "live-everywhere");
    const old = await issuePat(patrol, who, "old-and-removed");
    const repo = await gh.createRepo("hist-dev", "legacy", { private: true });

    const first = await repo.commit({ message: "init", files: { "README.md": "# legacy\n" } });
    const oldAdded = await repo.commit({ files: { "ci/old.env": `PAT=${old.token}\n` } });
    await repo.commit({ files: { "ci/old.env": null } });
    const added = await repo.commit({ files: { "deploy/env.sh": `export PAT=${live.token}\n` } });
    const changed = await repo.commit({
      files: { "deploy/env.sh": `# changed\nexport AZURE_PAT=${live.token}\n` },
    });
    await repo.createBranch("feature", first);
    const onBranch = await repo.commit({
      branch: "feature",
      files: { "scripts/clone.sh": `git clone https://x:${live.token}@dev.azure.com/o/_git/r\n` },
    });
    const moreCommits = await repo.commitMany(
      Array.from({ length: 20 }, (_, i) => ({ files: { [`notes/${i}.txt`]: `note ${i}\n` } })),
    );
    const tagged = await repo.commit({
      branch: "release",
      from: first,
      files: { "release/config.json": `{"pat":"${live.token}"}\n` },
    });
    await repo.createTag("v1.0", tagged);
    // The release branch goes; the tag keeps its commit reachable.
    await repo.deleteBranch("release");
    expect(moreCommits).toHaveLength(20);

    repo.setVisibility("public");
    const delivery = await gh.deliver({
      url: webhookUrl,
      event: "repository",
      payload: repo.publicizedPayload(),
      secret: SECRET,
    });
    expect(delivery.statusCode).toBe(202);
    // GitHub sends `public` alongside: the same repository, while its scan is queued or running — no second scan.
    const alongside = await gh.deliver({
      url: webhookUrl,
      event: "public",
      payload: repo.publicPayload(),
      secret: SECRET,
    });
    expect(alongside.statusCode).toBe(202);

    for (const pat of [live, old])
      await eventually(
        "the PAT to stop working",
        async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
      );
    await eventually(
      "two mails",
      async () => smtp.messages.filter((m) => m.to.includes(who.email)).length >= 2,
    );
    await idle();
    expect(await historyJobsFinished()).toBe(1);
    expect(gh.requests.some((r) => r.path.startsWith("/hist-dev/legacy.git/") && r.status === 200)).toBe(
      true,
    );

    const mails = smtp.messages.filter((m) => m.to.includes(who.email));
    expect(mails.map((m) => m.subject).sort()).toEqual([
      'Your personal access token "live-everywhere" was found in a public repository',
      'Your personal access token "old-and-removed" was found in a public repository',
    ]);
    for (const mail of mails)
      for (const token of [live.token, old.token]) expect(mail.raw.toString("utf8")).not.toContain(token);

    const listed = await incidents("hist");
    expect(listed).toHaveLength(2);
    const liveIncident = listed.find((i) => i.authorizationId === live.authorizationId)!;
    expect(liveIncident.state).toBe("revoked");
    const places = liveIncident.locations.map((l) => `${l.commit} ${l.path}:${l.line}`).sort();
    expect(places).toEqual(
      [
        `${added} deploy/env.sh:1`,
        `${changed} deploy/env.sh:2`,
        `${onBranch} scripts/clone.sh:1`,
        `${tagged} release/config.json:1`,
      ].sort(),
    );
    for (const l of liveIncident.locations) {
      expect(l.source).toBe("history");
      expect(l.repository).toBe("hist-dev/legacy");
      expect(l.permalink).toBe(`${repo.htmlUrl}/blob/${l.commit}/${l.path}#L${l.line}`);
    }
    const oldIncident = listed.find((i) => i.authorizationId === old.authorizationId)!;
    expect(oldIncident.locations.map((l) => [l.commit, l.path, l.line])).toEqual([
      [oldAdded, "ci/old.env", 1],
    ]);

    // The clone is gone.
    expect(readdirSync(cloneDir)).toEqual([]);

    // A later delivery scans again (the history may have grown) but tells nobody twice.
    const later = await gh.deliver({
      url: webhookUrl,
      event: "public",
      payload: repo.publicPayload(),
      secret: SECRET,
    });
    expect(later.statusCode).toBe(202);
    await eventually("the second scan", async () => (await historyJobsFinished()) === 2);
    await idle();
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages.filter((m) => m.to.includes(who.email))).toHaveLength(2);
    expect(await incidents("hist")).toHaveLength(2);
    expect(readdirSync(cloneDir)).toEqual([]);

    // No token — the PATs, nor the installation token git used — rests in Redis.
    const redis = new Redis(patrol.service.redisUrl);
    try {
      const prefix = patrol.service.queues.history.opts.prefix!;
      const keys = await redis.keys(`${prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      let dump = "";
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === "hash") dump += JSON.stringify(await redis.hgetall(key));
        else if (type === "string") dump += await redis.get(key);
        else if (type === "list") dump += JSON.stringify(await redis.lrange(key, 0, -1));
        else if (type === "zset") dump += JSON.stringify(await redis.zrange(key, "0", "-1"));
        else if (type === "set") dump += JSON.stringify(await redis.smembers(key));
        else if (type === "stream") dump += JSON.stringify(await redis.xrange(key, "-", "+"));
      }
      expect(dump).toContain("hist-dev/legacy");
      expect(dump).not.toContain(live.token);
      expect(dump).not.toContain(old.token);
      expect(dump).not.toMatch(/ghs_[A-Za-z0-9]{20,}/);
    } finally {
      redis.disconnect();
    }
  });

  it("is not scanned when a private repository is added to the installation", async () => {
    const who = await createTenant(patrol, "hidden");
    const pat = await issuePat(patrol, who, "private-one");
    const repo = await gh.createRepo("hidden-dev", "secret", { private: true });
    await repo.commit({ files: { "env.sh": `PAT=${pat.token}\n` } });
    const before = await historyJobsFinished();
    const delivery = await gh.deliver({
      url: webhookUrl,
      event: "installation_repositories",
      payload: gh.installationRepositoriesAddedPayload("hidden-dev", [repo]),
      secret: SECRET,
    });
    expect(delivery.statusCode).toBe(202);
    expect(JSON.parse(delivery.responseBody)).toEqual({ message: "private" });
    await new Promise((r) => setTimeout(r, 500));
    await idle();
    expect(await historyJobsFinished()).toBe(before);
    expect(gh.requests.some((r) => r.path.startsWith("/hidden-dev/secret.git/"))).toBe(false);
    expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);
  });

  it("can be scanned by hand with patrol scan-repo, which needs REDIS_URL", async () => {
    const who = await createTenant(patrol, "manual");
    const pat = await issuePat(patrol, who, "by-hand");
    const repo = await gh.createRepo("manual-dev", "tool");
    await repo.commit({ files: { "tool.cfg": `token=${pat.token}\n` } });
    await repo.commit({ files: { "tool.cfg": "token=\n" } });
    const out: string[] = [];
    const io = {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: () => true },
      stdin: process.stdin,
    };
    const env = { ...gh.env(SECRET), LOG_LEVEL: "silent" as const };
    await expect(runScanRepo(["manual-dev/tool"], io, loadConfig({ ...env, REDIS_URL: "" }))).rejects.toThrow(
      /set REDIS_URL/,
    );
    await expect(runScanRepo(["not a repo"], io, loadConfig(env))).rejects.toThrow(/OWNER\/NAME/);
    const config = loadConfig({
      ...env,
      REDIS_URL: patrol.service.redisUrl,
      QUEUE_PREFIX: patrol.service.queues.history.opts.prefix,
    });
    expect(await runScanRepo(["manual-dev/tool"], io, config)).toBe(0);
    expect(out.join("")).toMatch(/queued a history scan of manual-dev\/tool: job history-\d+-manual-/);
    await eventually(
      "the PAT to stop working",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
    );
    const [incident] = await incidents("manual");
    expect(incident.locations).toHaveLength(1);
    expect(incident.locations[0]).toMatchObject({ path: "tool.cfg", line: 1, source: "history" });
  });

  it("can be started by hand through the admin API, with the admin key, on a repository the app is installed on", async () => {
    const who = await createTenant(patrol, "by-api");
    const pat = await issuePat(patrol, who, "api-started");
    const repo = await gh.createRepo("api-dev", "tool");
    await repo.commit({ files: { "tool.cfg": `token=${pat.token}\n` } });
    await repo.commit({ files: { "tool.cfg": "token=\n" } });
    await gh.createRepo("api-dev", "not-covered", { installed: false });
    const route = "/_apis/patrol/history-scans";

    const anonymous = await fetch(`${patrol.url}${route}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ repository: "api-dev/tool" }),
    });
    expect(anonymous.status).toBe(401);
    const badName = await patrol.admin("POST", route, { repository: "not a repo" });
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as { message: string }).message).toMatch(/OWNER\/NAME/);
    for (const repository of ["api-dev/not-covered", "api-dev/no-such-repo"]) {
      const missing = await patrol.admin("POST", route, { repository });
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { message: string }).message).toMatch(/not installed/);
    }
    expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);

    const started = await patrol.admin("POST", route, { repository: "api-dev/tool" });
    expect(started.status).toBe(202);
    const body = (await started.json()) as { jobId: string; repository: string; private: boolean };
    expect(body).toMatchObject({ repository: "api-dev/tool", private: false, trigger: "manual" });
    expect(body.jobId).toMatch(/^history-\d+-manual-/);
    const job = await patrol.service.queues.history.getJob(body.jobId);
    expect(job?.data).toMatchObject({ trigger: "manual", repository: { fullName: "api-dev/tool" } });
    await eventually(
      "the PAT to stop working",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
    );
    const [incident] = await incidents("by-api");
    expect(incident.locations).toEqual([
      expect.objectContaining({ repository: "api-dev/tool", path: "tool.cfg", line: 1, source: "history" }),
    ]);
  });
});
