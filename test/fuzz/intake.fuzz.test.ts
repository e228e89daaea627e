/**
 * Property tests of the two doors GitHub knocks on, over a real patrol (web process, real Redis and store):
 * the webhook route and the secret-scanning partner endpoint. Whatever the body and headers — signed or not,
 * truncated JSON, wrong types, missing fields, odd event names — the answer is a clear 4xx (or 2xx), never a 5xx
 * (503 is for Redis being down, which it is not here), the process stays up, and nothing refused is queued.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintAzdo } from "../../src/tokens/index.js";
import {
  createSecretScanningKey,
  type FakeGitHub,
  type FakeRepository,
  type PushPayload,
  type SecretScanningSigner,
  startFakeGitHub,
} from "../support/fake-github/index.js";
import { startTestPatrol, type TestPatrol } from "../support/patrol.js";
import { postWebhook, signWebhook } from "../support/webhooks.js";
import { anyJson, failOnUnhandledRejections, fuzzParameters, mangled } from "./fuzz-support.js";

const SECRET = randomBytes(20).toString("hex");
const EVENTS = [
  "push",
  "public",
  "repository",
  "installation",
  "installation_repositories",
  "ping",
  "issues",
];
let gh: FakeGitHub;
let patrol: TestPatrol;
let repo: FakeRepository;
let push: PushPayload;
let signer: SecretScanningSigner;
let webhookUrl: string;
let alertUrl: string;

failOnUnhandledRejections();

beforeAll(async () => {
  gh = await startFakeGitHub();
  signer = createSecretScanningKey();
  gh.setSecretScanningKeys([signer.publicKey]);
  // No workers: whatever is queued stays in the queue to be looked at.
  patrol = await startTestPatrol(gh.env(SECRET), "web");
  webhookUrl = `${patrol.url}/api/github/webhooks`;
  alertUrl = `${patrol.url}/api/github/secret-scanning`;
  repo = await gh.createRepo("fuzz-org", "app");
  const before = await repo.commit({ message: "init", files: { "a.txt": "a\n" } });
  const after = await repo.commit({ files: { "b.txt": "b\n" } });
  push = await repo.pushPayload({ before, after });
}, 120_000);

afterAll(async () => {
  await patrol?.stop();
  await gh?.close();
});

/** The answer's body is JSON with a message a person can read. */
function expectClearAnswer(status: number, body: string): void {
  expect(status, body).toBeGreaterThanOrEqual(200);
  expect(status, body).toBeLessThan(500);
  if (status >= 400) {
    const parsed = JSON.parse(body) as { message?: unknown };
    expect(typeof parsed.message, body).toBe("string");
    expect((parsed.message as string).length).toBeGreaterThan(5);
  }
}

async function queuedFor(deliveryId: string): Promise<boolean> {
  if (await patrol.service.queues.scan.getJob(`push-${deliveryId}`)) return true;
  for (const queue of patrol.service.queues.all) {
    const jobs = await queue.getJobs(["waiting", "delayed", "prioritized"], 0, 1000);
    if (jobs.some((j) => j?.data?.deliveryId === deliveryId)) return true;
  }
  return false;
}

/** Bodies GitHub would never send: bytes, text, JSON of any type, and a real payload cut short. */
const oddBody = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
  fc.nat().map((n) => {
    const whole = JSON.stringify(push);
    return Buffer.from(whole.slice(0, n % whole.length));
  }),
);

describe("the webhook route under bad input", () => {
  it("answers any correctly signed body, for any event, with a 2xx or a clear 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...EVENTS), oddBody, async (event, body) => {
        const r = await postWebhook({ url: webhookUrl, event, payload: body, secret: SECRET });
        expectClearAnswer(r.status, r.body);
        if (r.status >= 400) expect(await queuedFor(r.deliveryId)).toBe(false);
      }),
      fuzzParameters(60),
    );
  });

  it("answers a push payload with fields dropped or of the wrong type with 202 or 400 naming the field", async () => {
    await fc.assert(
      fc.asyncProperty(mangled(push as unknown as Record<string, unknown>), async (payload) => {
        const r = await postWebhook({ url: webhookUrl, event: "push", payload, secret: SECRET });
        expectClearAnswer(r.status, r.body);
        if (r.status === 400) {
          expect(r.body).toMatch(/malformed push payload|not valid JSON|installation.id is not/);
          expect(await queuedFor(r.deliveryId)).toBe(false);
        }
        if (r.status === 202 && JSON.parse(r.body).message === "queued") {
          // What was queued is a well-formed reference, whatever else the payload held.
          const job = await patrol.service.queues.scan.getJob(`push-${r.deliveryId}`);
          expect(job?.data.after).toMatch(/^[0-9a-f]{40}$/);
          expect(job?.data.repository.fullName).toMatch(/^[^/\s]+\/[^/\s]+$/);
          expect(Number.isInteger(job?.data.installationId)).toBe(true);
        }
      }),
      fuzzParameters(60),
    );
  });

  it("answers what fuzzing found once gave 503 with 400: a body that is JSON but no object, a non-numeric installation id", async () => {
    for (const body of ["null", "0", "42", '"push"', "[]", "true"]) {
      const r = await postWebhook({ url: webhookUrl, event: "push", payload: body, secret: SECRET });
      expect([r.status, JSON.parse(r.body).message]).toEqual([400, "the body is not a JSON object"]);
    }
    for (const id of [" ", "1", true, { id: 1 }, -4, 1.5]) {
      const payload = { ...push, installation: { id } };
      const r = await postWebhook({ url: webhookUrl, event: "push", payload, secret: SECRET });
      expect(r.status, r.body).toBe(400);
      expect(await queuedFor(r.deliveryId)).toBe(false);
    }
  });

  it("refuses unsigned, wrongly signed and oddly headed deliveries with a 4xx and queues nothing", async () => {
    const header = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 80 }));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          event: fc.oneof(fc.constantFrom(...EVENTS), fc.string({ maxLength: 70 })),
          delivery: header,
          signature: fc.oneof(
            header,
            fc.constant(signWebhook(JSON.stringify(push), "not-the-secret")),
            fc.constant("sha256="),
          ),
          contentType: fc.constantFrom(
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
          ),
        }),
        async ({ event, delivery, signature, contentType }) => {
          const headers: Record<string, string> = { "content-type": contentType };
          // fetch refuses header values with control characters or non-Latin-1: HTTP has no way to send them.
          const put = (name: string, value: string | undefined) => {
            if (value !== undefined && /^[\x20-\x7e]*$/.test(value)) headers[name] = value;
          };
          put("x-github-event", event);
          put("x-github-delivery", delivery);
          put("x-hub-signature-256", signature);
          const response = await fetch(webhookUrl, {
            method: "POST",
            headers,
            body: JSON.stringify(push),
          });
          const body = await response.text();
          expect(response.status, body).toBeGreaterThanOrEqual(400);
          expect(response.status, body).toBeLessThan(500);
          if (typeof delivery === "string" && delivery !== "")
            expect(await queuedFor(delivery.replace(/[^A-Za-z0-9-]/g, ""))).toBe(false);
        },
      ),
      fuzzParameters(60),
    );
  });
});

describe("the partner endpoint under bad input", () => {
  const entry = fc.record(
    {
      token: fc.oneof(fc.string({ maxLength: 100 }), fc.constant(mintAzdo()), anyJson),
      type: fc.oneof(fc.string({ maxLength: 40 }), anyJson),
      url: fc.oneof(fc.webUrl({ withFragments: true, withQueryParameters: true }), fc.string(), anyJson),
      source: fc.oneof(fc.constantFrom("content", "commit", "issue"), anyJson),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    fc.array(entry, { maxLength: 5 }).map((e) => JSON.stringify(e)),
    anyJson.map((v) => JSON.stringify(v) ?? "null"),
    fc.string({ maxLength: 200 }),
    fc
      .tuple(fc.array(entry, { minLength: 1, maxLength: 3 }), fc.nat())
      .map(([e, n]) => JSON.stringify(e).slice(0, n % JSON.stringify(e).length)),
  );

  it("answers any correctly signed body with 200 (one answer per entry, in order) or a clear 400", async () => {
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const response = await fetch(alertUrl, { method: "POST", headers: signer.headers(text), body: text });
        const answer = await response.text();
        expect([200, 400, 413, 415], answer).toContain(response.status);
        const parsed = JSON.parse(answer);
        if (response.status === 200) {
          const sent = JSON.parse(text) as unknown[];
          expect(parsed).toHaveLength(sent.length);
          for (const a of parsed) {
            expect(a.token_hash).toMatch(/^[0-9a-f]{64}$/);
            expect(["true_positive", "false_positive"]).toContain(a.label);
          }
        } else expect(typeof parsed.message).toBe("string");
      }),
      fuzzParameters(80),
    );
  });

  it("refuses what is not signed by GitHub's key with a 4xx, whatever the body", async () => {
    const other = createSecretScanningKey();
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom("none", "other-key", "tampered", "garbage"),
        async (text, how) => {
          const headers: Record<string, string> = { "content-type": "application/json" };
          if (how === "other-key") Object.assign(headers, other.headers(text));
          if (how === "tampered")
            Object.assign(headers, signer.headers(`${text} `), { "content-type": "application/json" });
          if (how === "garbage")
            Object.assign(headers, {
              "github-public-key-identifier": signer.keyIdentifier,
              "github-public-key-signature": "bm90IGEgc2lnbmF0dXJl",
            });
          const response = await fetch(alertUrl, { method: "POST", headers, body: text });
          const answer = await response.text();
          expect(response.status, answer).toBeGreaterThanOrEqual(400);
          expect(response.status, answer).toBeLessThan(500);
        },
      ),
      fuzzParameters(40),
    );
  });
});
