/**
 * GitHub's REST answers broken on purpose (the fake GitHub's "mangle" fault: truncated JSON, fields dropped or of
 * the wrong type) on the compare, commit and blob endpoints a push scan reads. The scan either completes or
 * fails with a reason that names GitHub's answer — never a TypeError from deep inside, never "no files" for an
 * answer it could not read. On a running patrol the broken push's job fails with that reason and is retried,
 * the worker keeps scanning other pushes, and once GitHub answers properly the broken push is scanned too.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import {
  createGitHubApp,
  type GitHubClient,
  type PushReference,
  pushReferenceFromPayload,
  scanPush,
} from "../../src/github/index.js";
import { fingerprint, mintAzdo } from "../../src/tokens/index.js";
import { type FakeGitHub, type FakeRepository, startFakeGitHub } from "../support/fake-github/index.js";
import {
  createTenant,
  eventually,
  issuePat,
  patStatus,
  startTestPatrol,
  type TestPatrol,
} from "../support/patrol.js";
import { anyJson, failOnUnhandledRejections, fuzzParameters } from "./fuzz-support.js";

const SECRET = randomBytes(20).toString("hex");
let gh: FakeGitHub;
let client: GitHubClient;
let repo: FakeRepository;
const token = mintAzdo();
/** Three pushes that read each endpoint: a compare, a new branch (its commits), a binary file (its blob). */
const pushes: Record<"compare" | "commits" | "blob", PushReference> = {} as never;

failOnUnhandledRejections();

beforeAll(async () => {
  gh = await startFakeGitHub();
  const config = loadConfig(gh.env(SECRET));
  const probot = createGitHubApp(config, pino({ level: "silent" }));
  repo = await gh.createRepo("mangled-org", "app");
  const base = await repo.commit({ message: "init", files: { "README.md": "# app\n" } });
  const head = await repo.commit({ files: { "config/.env": `A=1\nPAT=${token}\n` } });
  client = await probot!.auth((await repo.pushPayload({})).installation!.id);
  const ref = (payload: unknown) =>
    pushReferenceFromPayload(payload, randomBytes(8).toString("hex"), Date.now())!;
  pushes.compare = ref(await repo.pushPayload({ before: base, after: head }));
  // A force push is scanned commit by commit (GitHub may not compare across a rewrite).
  pushes.commits = ref(await repo.pushPayload({ before: base, after: head, forced: true }));
  const binary = await repo.commit({
    files: {
      "bin/blob.dat": Buffer.concat([
        Buffer.from([0, 1, 2, 0xff]),
        Buffer.from(` ${token} `),
        Buffer.alloc(64),
      ]),
    },
  });
  pushes.blob = ref(await repo.pushPayload({ before: head, after: binary }));
}, 120_000);

afterAll(async () => {
  await gh?.close();
});

const ENDPOINTS = { compare: /\/compare\//, commits: /\/commits\//, blob: /\/git\/blobs\// } as const;

/** A recipe to break an answer: cut it short, or replace values at some of its paths. */
const recipe = fc.oneof(
  fc.record({ cut: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    edits: fc.array(fc.tuple(fc.nat(), fc.oneof(anyJson, fc.constant(undefined))), {
      minLength: 1,
      maxLength: 3,
    }),
  }),
);

function breakAnswer(body: string, r: { cut?: number; edits?: [number, unknown][] }): string {
  if (r.cut !== undefined) return body.slice(0, Math.floor(body.length * r.cut));
  const value = JSON.parse(body) as unknown;
  const paths = allPaths(value);
  for (const [pick, replacement] of r.edits ?? []) {
    const path = paths[pick % paths.length];
    if (path.length === 0) return JSON.stringify(replacement) ?? "";
    let at = value as Record<string, unknown>;
    for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
    if (at === null || typeof at !== "object") continue;
    if (replacement === undefined) delete at[path[path.length - 1]];
    else at[path[path.length - 1]] = replacement;
  }
  return JSON.stringify(value);
}

function allPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object") return [prefix];
  return [prefix, ...Object.entries(value).flatMap(([k, v]) => allPaths(v, [...prefix, k]))];
}

describe("a push scan over GitHub answers that are broken", () => {
  it("finds the token when nothing is broken (the baseline the properties break)", async () => {
    for (const ref of Object.values(pushes)) {
      const result = await scanPush(client, ref, { maxBlobBytes: 1_000_000 });
      expect(result.findings.map((f) => f.finding.fingerprint)).toContain(fingerprint(token));
    }
  });

  it("fails with a reason naming GitHub's answer when the compare's JSON is cut short, instead of scanning nothing", async () => {
    const fault = gh.faults.add({
      kind: "mangle",
      path: ENDPOINTS.compare,
      mangle: (b) => b.slice(0, b.length / 2),
    });
    try {
      await expect(scanPush(client, pushes.compare, { maxBlobBytes: 1_000_000 })).rejects.toThrow(
        /GitHub's answer to compare mangled-org\/app .* is not a JSON object/,
      );
      expect(fault.hits).toBe(1);
    } finally {
      fault.remove();
    }
  });

  it("completes or fails with a reason, whichever endpoint answers whatever broken body", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("compare", "commits", "blob") as fc.Arbitrary<keyof typeof pushes>,
        recipe,
        async (which, r) => {
          const fault = gh.faults.add({
            kind: "mangle",
            path: ENDPOINTS[which],
            mangle: (b) => breakAnswer(b, r),
          });
          try {
            const result = await scanPush(client, pushes[which], { maxBlobBytes: 1_000_000 }).then(
              (value) => ({ value }),
              (error: Error) => ({ error }),
            );
            expect(fault.hits).toBeGreaterThan(0);
            if ("error" in result) {
              const { error } = result;
              const reason = `${error.name}: ${error.message}`;
              // Only our own error, or Octokit's for an HTTP failure: nothing thrown by code that trusted the shape.
              expect(["GitHubResponseError", "HttpError"], reason).toContain(error.name);
              if (error.name === "GitHubResponseError")
                expect(error.message).toMatch(/^GitHub's answer to (compare|commit|blob) mangled-org\/app /);
            } else {
              for (const f of result.value.findings) expect(typeof f.path).toBe("string");
            }
          } finally {
            fault.remove();
          }
        },
      ),
      fuzzParameters(120),
    );
  });
});

describe("a running patrol when GitHub's answers for one push are broken", () => {
  let patrol: TestPatrol;
  beforeAll(async () => {
    patrol = await startTestPatrol(gh.env(SECRET));
  }, 120_000);
  afterAll(async () => {
    await patrol?.stop();
  });

  it("fails that push's job with the reason and retries it, while other pushes are scanned; then scans it", async () => {
    const who = await createTenant(patrol, "mangled");
    const first = await issuePat(patrol, who, "in the broken push");
    const second = await issuePat(patrol, who, "in a good push");
    const webhookUrl = `${patrol.url}/api/github/webhooks`;
    const own = await gh.createRepo("mangled-org", "service");
    const base = await own.commit({ message: "init", files: { "a.txt": "a\n" } });
    const broken = await own.commit({ files: { ".npmrc": `//feed/:_password=${first.token}\n` } });
    const fault = gh.faults.add({
      kind: "mangle",
      path: new RegExp(`/compare/${base}\\.\\.\\.${broken}`),
      mangle: (b) => JSON.stringify({ ...JSON.parse(b), files: "not a list" }),
    });
    const bad = await gh.deliver({
      url: webhookUrl,
      event: "push",
      secret: SECRET,
      payload: await own.pushPayload({ before: base, after: broken }),
    });
    const job = await eventually("the broken push's job to fail once with a reason", async () => {
      const j = await patrol.service.queues.scan.getJob(`push-${bad.guid}`);
      return j?.failedReason ? j : null;
    });
    expect(job.failedReason).toMatch(/GitHub's answer to compare mangled-org\/service .* files: /);
    expect(await job.getState()).toMatch(/delayed|waiting|active/);

    const good = await own.commit({ files: { "deploy.yml": `token: ${second.token}\n` } });
    await gh.deliver({
      url: webhookUrl,
      event: "push",
      secret: SECRET,
      payload: await own.pushPayload({ before: broken, after: good }),
    });
    await eventually(
      "the good push's PAT to be revoked",
      async () => (await patStatus(patrol, who.organization, second.token)) === 401,
    );
    expect(await patStatus(patrol, who.organization, first.token)).toBe(200);

    fault.remove();
    await eventually(
      "the broken push, retried, to be scanned",
      async () => (await patStatus(patrol, who.organization, first.token)) === 401,
    );
  }, 60_000);
});
