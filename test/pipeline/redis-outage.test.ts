/**
 * patrol while its Redis is down, on a Redis of this suite's own that it stops and starts again (AOF on).
 *
 * Webhooks are answered 503, so GitHub records them failed; once Redis is back the scheduled redelivery job
 * lists the app's deliveries on the fake GitHub and asks for each failed GUID once: the leaks are revoked and
 * mailed once each, a second run asks for nothing, a delivery past GitHub's 3-day window is left alone, and a
 * GUID already delivered successfully is not asked for again.
 *
 * GitHub's secret-scanning partner alerts are answered 503 and nothing is acted on; GitHub's retry once Redis is
 * back is acted on exactly once.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Job } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedeliveryRun } from "../../src/github/index.js";
import {
  type PrivateRedis,
  REDELIVERY_SCHEDULER_ID,
  redisRedeliveryState,
  requestRedeliveryRun,
  startPrivateRedis,
} from "../../src/queue/index.js";
import {
  createSecretScanningKey,
  type DeliveryRecord,
  type FakeGitHub,
  type FakeRepository,
  postPartnerAlert,
  type SecretScanningSigner,
  startFakeGitHub,
} from "../support/fake-github/index.js";
import {
  createTenant,
  eventually,
  issuePat,
  listIncidents,
  patStatus,
  startTestPatrol,
  type TestPatrol,
} from "../support/patrol.js";
import { uniqueQueuePrefix } from "../support/redis.js";
import { type SmtpCapture, startSmtpCapture } from "../support/smtp.js";

const SECRET = randomBytes(20).toString("hex");
const DAY_MS = 24 * 3600 * 1000;
const prefix = uniqueQueuePrefix("redeliver");

let gh: FakeGitHub;
let smtp: SmtpCapture;
let redisDir: string;
let redis: PrivateRedis;
let patrol: TestPatrol;
let repo: FakeRepository;
let webhookUrl: string;
let signer: SecretScanningSigner;

beforeAll(async () => {
  gh = await startFakeGitHub();
  signer = createSecretScanningKey();
  gh.setSecretScanningKeys([signer.publicKey]);
  smtp = await startSmtpCapture();
  // A Redis of this suite's own (AOF on, as in production), to stop and start again.
  redisDir = mkdtempSync(path.join(tmpdir(), "patrol-redelivery-"));
  redis = await startPrivateRedis({ dir: redisDir });
  patrol = await startTestPatrol({
    ...gh.env(SECRET),
    SMTP_URL: smtp.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    // The scheduler is on; the test asks for its runs itself, so it knows which run did what.
    WEBHOOK_REDELIVERY_INTERVAL_SECONDS: "3600",
  });
  webhookUrl = `${patrol.url}/api/github/webhooks`;
  repo = await gh.createRepo("redeliver-org", "service");
  await repo.commit({ message: "init", files: { "README.md": "# service\n" } });
}, 120_000);

afterAll(async () => {
  await patrol?.stop();
  await redis?.stop();
  await smtp?.close();
  await gh?.close();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

async function pushLeak(token: string, options: { deliveredAt?: Date } = {}): Promise<DeliveryRecord> {
  const before = (await repo.tip())!;
  const after = await repo.commit({
    files: { [`deploy/${randomBytes(3).toString("hex")}.sh`]: `export AZURE_DEVOPS_EXT_PAT=${token}\n` },
  });
  const payload = await repo.pushPayload({ before, after });
  return gh.deliver({ url: webhookUrl, event: "push", payload, secret: SECRET, ...options });
}

/** Queues one redelivery run and waits for its result. */
async function redeliveryRun(): Promise<RedeliveryRun> {
  const queue = patrol.service.queues.redelivery;
  const id = await requestRedeliveryRun(queue);
  return eventually("the redelivery run to finish", async () => {
    const job = await Job.fromId(queue, id);
    const state = await job?.getState();
    if (state === "failed") throw new Error(`redelivery run failed: ${job?.failedReason}`);
    return state === "completed" ? (job!.returnvalue as RedeliveryRun) : null;
  });
}

const attempts = () =>
  gh.requests.filter((r) => r.method === "POST" && /\/app\/hook\/deliveries\/\d+\/attempts$/.test(r.path));

describe("webhooks missed while Redis was down", () => {
  it("are redelivered once each when it is back: leaks revoked, one mail each, nothing doubled", async () => {
    const schedulers = await patrol.service.queues.redelivery.getJobSchedulers();
    expect(schedulers).toEqual([expect.objectContaining({ key: REDELIVERY_SCHEDULER_ID, every: 3_600_000 })]);
    // One run at a time across every worker process.
    expect(await patrol.service.queues.redelivery.getGlobalConcurrency()).toBe(1);

    // The scheduler's first run comes at once; let it finish before Redis goes away.
    await eventually(
      "the first scheduled run",
      async () => (await patrol.service.queues.redelivery.getCompletedCount()) >= 1,
    );

    const who = await createTenant(patrol, "redeliver");
    const recovered = await Promise.all(["one", "two", "three"].map((n) => issuePat(patrol, who, n)));
    const tooOld = await issuePat(patrol, who, "too-old");
    const succeeded = await issuePat(patrol, who, "delivered-again");

    await redis.stop();
    // Oldest first, as GitHub lists them: one that GitHub would no longer redeliver …
    const old = await pushLeak(tooOld.token, { deliveredAt: new Date(Date.now() - 4 * DAY_MS) });
    const missed = [];
    for (const pat of recovered) missed.push(await pushLeak(pat.token));
    const laterDelivered = await pushLeak(succeeded.token);
    expect([old, ...missed, laterDelivered].map((d) => d.statusCode)).toEqual([503, 503, 503, 503, 503]);

    redis = await startPrivateRedis({ dir: redisDir, port: redis.port });
    await eventually("patrol to be ready again", async () => (await fetch(`${patrol.url}/readyz`)).ok);
    // … and one delivered successfully since (someone pressed "Redeliver" on GitHub).
    const manual = await gh.deliver({
      url: webhookUrl,
      event: "push",
      payload: laterDelivered.body,
      secret: SECRET,
      deliveryId: laterDelivered.guid,
    });
    expect(manual.statusCode).toBe(202);

    const first = await redeliveryRun();
    expect(first).toMatchObject({ failed: 3, redelivered: 3, refused: 0 });
    await gh.settled();
    expect(attempts().map((r) => r.path.split("/").at(-2))).toEqual(missed.map((d) => String(d.id)));
    const redeliveries = gh.deliveries.filter((d) => d.redelivery);
    expect(redeliveries.map((d) => [d.guid, d.statusCode])).toEqual(missed.map((d) => [d.guid, 202]));

    for (const pat of [...recovered, succeeded])
      await eventually(
        "the PAT to stop working",
        async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
      );
    await eventually("four mails", async () => smtp.messages.length >= 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages.map((m) => m.subject).sort()).toEqual(
      ["delivered-again", "one", "three", "two"].map(
        (n) => `Your personal access token "${n}" was found in a public repository`,
      ),
    );
    // Past GitHub's window: never asked for, so that leak was never seen.
    expect(await patStatus(patrol, who.organization, tooOld.token)).toBe(200);

    const second = await redeliveryRun();
    expect(second.redelivered).toBe(0);
    expect(second.refused).toBe(0);
    expect(attempts()).toHaveLength(3);

    const metrics = await (await fetch(`${patrol.url}/metrics`)).text();
    expect(metrics).toMatch(/patrol_webhook_redeliveries_total\{result="requested"\} 3\b/);
  });

  it("remembers where it left off, and never asks for a GUID twice even when it fails again", async () => {
    const before = attempts().length;
    // A delivery that fails again after its redelivery (the redelivery is refused too).
    const refusing = await gh.deliver({
      url: `${patrol.url}/api/github/no-such-route`,
      event: "push",
      payload: { zen: "refused" },
      secret: SECRET,
    });
    expect(refusing.statusCode).toBe(404);
    const third = await redeliveryRun();
    expect(third).toMatchObject({ failed: 1, redelivered: 1 });
    await gh.settled();
    expect(gh.deliveries.filter((d) => d.guid === refusing.guid).map((d) => d.statusCode)).toEqual([
      404, 404,
    ]);
    const fourth = await redeliveryRun();
    expect(fourth).toMatchObject({ redelivered: 0, alreadyRedelivered: 1 });
    expect(attempts().length).toBe(before + 1);
    // The newest delivery examined (GitHub gives seconds) is where the next run starts, kept under the prefix.
    const newest = Math.max(...gh.deliveries.map((d) => Math.floor(d.deliveredAt.getTime() / 1000) * 1000));
    const state = redisRedeliveryState(patrol.service.queues.connection, prefix);
    expect(await state.since()).toBe(newest);
    expect(fourth.since).toBe(newest);
  });
});

describe("a partner alert while Redis is down", () => {
  it("is answered 503 and acted on not at all; GitHub's retry once Redis is back is acted on exactly once", async () => {
    const who = await createTenant(patrol, "alert-outage");
    const pat = await issuePat(patrol, who, "alerted-during-outage");
    const alertUrl = `${patrol.url}/api/github/secret-scanning`;
    const url = "https://github.com/outage-dev/app/blob/0123456789abcdef0123456789abcdef01234567/a.env#L2";
    const alert = [{ token: pat.token, type: "azure_devops_personal_access_token", url, source: "content" }];
    const mailsBefore = smtp.messages.length;
    // The signing keys are fetched (and cached) while Redis is up: the outage is Redis's alone.
    expect((await postPartnerAlert(alertUrl, signer, [])).status).toBe(200);

    await redis.stop();
    const down = await postPartnerAlert(alertUrl, signer, alert);
    expect(down.status).toBe(503);
    expect(down.body).toMatch(/send the alert again later/);
    redis = await startPrivateRedis({ dir: redisDir, port: redis.port });
    await eventually("patrol to be ready again", async () => (await fetch(`${patrol.url}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 500));
    expect(await patStatus(patrol, who.organization, pat.token)).toBe(200);
    expect(await listIncidents(patrol, "alert-outage")).toEqual([]);
    expect(smtp.messages.length).toBe(mailsBefore);

    const retried = await postPartnerAlert(alertUrl, signer, alert);
    expect(retried.status).toBe(200);
    expect(JSON.parse(retried.body)[0].label).toBe("true_positive");
    await eventually(
      "the PAT to stop working",
      async () => (await patStatus(patrol, who.organization, pat.token)) === 401,
    );
    // GitHub may send it yet again: nothing more happens.
    expect((await postPartnerAlert(alertUrl, signer, alert)).status).toBe(200);
    await eventually("the mail", async () => smtp.messages.length > mailsBefore);
    await new Promise((r) => setTimeout(r, 500));
    const mails = smtp.messages.slice(mailsBefore);
    expect(mails.map((m) => m.subject)).toEqual([
      'Your personal access token "alerted-during-outage" was found in a public repository',
    ]);
    const [incident] = await listIncidents(patrol, "alert-outage");
    expect(incident.state).toBe("revoked");
    expect(incident.locations).toEqual([
      expect.objectContaining({ source: "secret-scanning", path: "a.env", line: 2 }),
    ]);
  });
});
