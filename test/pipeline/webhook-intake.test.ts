/**
 * The webhook route as GitHub meets it: signed deliveries are queued as references (never content) and
 * answered at once; bad signatures, content types, sizes and payloads get a clear 4xx and queue nothing; a
 * redelivery queues nothing new; with Redis down the answer is 503 so GitHub shows the delivery failed.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PrivateRedis, startPrivateRedis } from "../../src/queue/index.js";
import { type FakeGitHub, type FakeRepository, startFakeGitHub } from "../support/fake-github/index.js";
import { eventually, startTestPatrol, type TestPatrol } from "../support/patrol.js";
import { postWebhook } from "../support/webhooks.js";

const SECRET = randomBytes(20).toString("hex");
let gh: FakeGitHub;
let patrol: TestPatrol;
let repo: FakeRepository;
let url: string;

beforeAll(async () => {
  gh = await startFakeGitHub();
  // Workers are not started: the jobs stay in the queue for the assertions.
  patrol = await startTestPatrol(gh.env(SECRET), "web");
  url = `${patrol.url}/api/github/webhooks`;
  repo = await gh.createRepo("intake-org", "app");
  await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
}, 120_000);

afterAll(async () => {
  await patrol?.stop();
  await gh?.close();
});

async function aPush() {
  const before = (await repo.tip())!;
  const after = await repo.commit({ files: { [`f${randomBytes(3).toString("hex")}.txt`]: "x\n" } });
  return repo.pushPayload({ before, after });
}

describe("the webhook route", () => {
  it("queues a signed push as a reference, named after the delivery, and answers 202", async () => {
    const payload = await aPush();
    const response = await postWebhook({ url, event: "push", payload, secret: SECRET });
    expect(response.status).toBe(202);
    const job = await patrol.service.queues.scan.getJob(`push-${response.deliveryId}`);
    expect(job).toBeDefined();
    expect(Object.keys(job!.data).sort()).toEqual(
      [
        "after",
        "before",
        "commits",
        "created",
        "deliveryId",
        "forced",
        "installationId",
        "kind",
        "receivedAt",
        "ref",
        "repository",
      ].sort(),
    );
    expect(job!.data).toMatchObject({
      kind: "push",
      deliveryId: response.deliveryId,
      installationId: payload.installation!.id,
      repository: { fullName: "intake-org/app", private: false },
      ref: payload.ref,
      before: payload.before,
      after: payload.after,
      created: false,
      forced: false,
      commits: payload.commits.map((c) => c.id),
    });
  });

  it("queues a redelivery of the same delivery id once", async () => {
    const payload = await aPush();
    const first = await postWebhook({ url, event: "push", payload, secret: SECRET });
    const again = await postWebhook({
      url,
      event: "push",
      payload,
      secret: SECRET,
      deliveryId: first.deliveryId,
    });
    expect([first.status, again.status]).toEqual([202, 202]);
    const jobs = await patrol.service.queues.scan.getJobs(["waiting", "active", "delayed", "completed"]);
    expect(jobs.filter((j) => j.data.deliveryId === first.deliveryId)).toHaveLength(1);
  });

  it("refuses what GitHub would not send, with a reason, and queues nothing", async () => {
    const before = await patrol.service.queues.scan.count();
    const payload = await aPush();
    const wrongSecret = await postWebhook({ url, event: "push", payload, secret: "not-the-secret" });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body).toMatch(/signature does not match/);
    const unsigned = await postWebhook({ url, event: "push", payload, secret: null });
    expect(unsigned.status).toBe(400);
    expect(unsigned.body).toMatch(/x-hub-signature-256/);
    const form = await postWebhook({
      url,
      event: "push",
      payload,
      secret: SECRET,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(415);
    const notJson = await postWebhook({ url, event: "push", payload: "{not json", secret: SECRET });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatch(/not valid JSON/);
    const { after: _dropped, ...malformed } = payload;
    const missing = await postWebhook({ url, event: "push", payload: malformed, secret: SECRET });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatch(/malformed push payload: after/);
    const huge = Buffer.alloc(26 * 1024 * 1024, 0x20);
    const tooLarge = await postWebhook({ url, event: "push", payload: huge, secret: SECRET });
    expect(tooLarge.status).toBe(413);
    expect(await patrol.service.queues.scan.count()).toBe(before);
  });

  it("answers deleted branches, private repositories and other events without queueing a scan", async () => {
    const before = await patrol.service.queues.scan.count();
    const deleted = await repo.pushPayload({ deleted: true, before: (await repo.tip())! });
    const d = await postWebhook({ url, event: "push", payload: deleted, secret: SECRET });
    expect([d.status, JSON.parse(d.body).message]).toEqual([202, "deleted"]);
    const secretRepo = await gh.createRepo("intake-org", "private-app", { private: true });
    await secretRepo.commit({ message: "init", files: { "a.txt": "a\n" } });
    const p = await postWebhook({
      url,
      event: "push",
      payload: await secretRepo.pushPayload({}),
      secret: SECRET,
    });
    expect([p.status, JSON.parse(p.body).message]).toEqual([202, "private"]);
    const ping = await postWebhook({
      url,
      event: "ping",
      payload: { zen: "Keep it logically awesome." },
      secret: SECRET,
    });
    expect([ping.status, JSON.parse(ping.body).message]).toEqual([202, "ignored"]);
    expect(await patrol.service.queues.scan.count()).toBe(before);
    const metrics = await (await fetch(`${patrol.url}/metrics`)).text();
    expect(metrics).toMatch(/patrol_webhooks_total\{event="push",outcome="queued"\} [1-9]/);
    expect(metrics).toMatch(/patrol_webhooks_total\{event="push",outcome="rejected"\} [1-9]/);
    expect(metrics).toMatch(/patrol_webhooks_total\{event="push",outcome="private"\} 1/);
  });
});

describe("the webhook route with Redis down", () => {
  let redisDir: string;
  let redis: PrivateRedis;
  let own: TestPatrol;

  beforeAll(async () => {
    redisDir = mkdtempSync(path.join(tmpdir(), "patrol-redis-down-"));
    redis = await startPrivateRedis({ dir: redisDir, persist: false });
    own = await startTestPatrol({ ...gh.env(SECRET), REDIS_URL: redis.url }, "web");
  }, 120_000);

  afterAll(async () => {
    await own?.stop();
    await redis?.stop();
    rmSync(redisDir, { recursive: true, force: true });
  });

  it("answers 503 so the delivery fails and can be redelivered, and is ready again when Redis is back", async () => {
    const target = `${own.url}/api/github/webhooks`;
    expect(
      (await postWebhook({ url: target, event: "push", payload: await aPush(), secret: SECRET })).status,
    ).toBe(202);
    await redis.stop();
    const down = await postWebhook({ url: target, event: "push", payload: await aPush(), secret: SECRET });
    expect(down.status).toBe(503);
    expect(down.body).toMatch(/redeliver/);
    expect((await fetch(`${own.url}/readyz`)).status).toBe(503);
    redis = await startPrivateRedis({ dir: redisDir, persist: false, port: redis.port });
    const back = await eventually("the webhook route to take deliveries again", async () => {
      const r = await postWebhook({ url: target, event: "push", payload: await aPush(), secret: SECRET });
      return r.status === 202 ? r : null;
    });
    expect(await own.service.queues.scan.getJob(`push-${back.deliveryId}`)).toBeDefined();
    expect((await fetch(`${own.url}/readyz`)).status).toBe(200);
  });
});
