/**
 * The test harness tested with the real clients the pipeline uses: Octokit (the family Probot 14 builds on,
 * with app auth, throttling and retry) against the fake GitHub, `git clone` over its smart HTTP, nodemailer
 * against the SMTP capture, and a plain HTTP receiver for webhook deliveries.
 */
import { execFile } from "node:child_process";
import { createHmac, verify } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createAppAuth } from "@octokit/auth-app";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createSecretScanningKey,
  type FakeGitHub,
  type FakeRepository,
  type SecretScanningKey,
  startFakeGitHub,
  ZERO_SHA,
} from "./support/fake-github/index.js";
import { type SmtpCapture, startSmtpCapture } from "./support/smtp.js";
import { postWebhook, signWebhook } from "./support/webhooks.js";

const ProbotLikeOctokit = Octokit.plugin(throttling, retry);

/** GitHub's recorded webhook payloads (the package is JSON behind a CommonJS entry point). */
const webhookExamples = createRequire(import.meta.url)("@octokit/webhooks-examples") as {
  name: string;
  examples: Record<string, unknown>[];
}[];

/** Runs git asynchronously: the fake serves from this process, so a synchronous spawn would deadlock it. */
async function git(cwd: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)("git", args, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
    });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { status: failed.code ?? 1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

let gh: FakeGitHub;
let repo: FakeRepository;
let octokit: InstanceType<typeof ProbotLikeOctokit>;
const rateLimits: { kind: "primary" | "secondary"; retryAfter: number }[] = [];

/** An Octokit set up as Probot sets one up: app auth (as the app, or as one installation), throttling, retry. */
function appOctokit(installationId?: number) {
  return new ProbotLikeOctokit({
    baseUrl: gh.apiUrl,
    // the 4xx answers asserted below are expected; keep throttling's warnings
    log: { debug: () => {}, info: () => {}, warn: console.warn, error: () => {} },
    authStrategy: createAppAuth,
    auth:
      installationId === undefined
        ? { appId: gh.appId, privateKey: gh.privateKeyPem }
        : { appId: gh.appId, privateKey: gh.privateKeyPem, installationId },
    throttle: {
      // seconds become milliseconds here, so the waits are real but short
      retryAfterBaseValue: 1,
      onRateLimit: (retryAfter: number) => {
        rateLimits.push({ kind: "primary", retryAfter });
        return true;
      },
      onSecondaryRateLimit: (retryAfter: number) => {
        rateLimits.push({ kind: "secondary", retryAfter });
        return true;
      },
    },
    retry: { retryAfterBaseValue: 1 },
  });
}

beforeAll(async () => {
  gh = await startFakeGitHub({ seed: 7 });
  repo = await gh.createRepo("octo-org", "service", { ownerType: "Organization" });
  octokit = appOctokit(gh.installation("octo-org").id);
});

afterAll(async () => {
  await gh?.close();
});

describe("app authentication and installations", () => {
  it("answers app endpoints to the app's JWT and issues installation tokens that other endpoints take", async () => {
    const asApp = appOctokit();
    const { data: app } = await asApp.rest.apps.getAuthenticated();
    expect(app?.id).toBe(gh.appId);
    expect(app?.slug).toBe(gh.appSlug);

    const { data: installations } = await asApp.rest.apps.listInstallations();
    expect(installations.map((i) => i.account && "login" in i.account && i.account.login)).toContain(
      "octo-org",
    );

    const { data: installation } = await asApp.rest.apps.getRepoInstallation({
      owner: "octo-org",
      repo: "service",
    });
    expect(installation.id).toBe(gh.installation("octo-org").id);

    const { data: repos } = await octokit.rest.apps.listReposAccessibleToInstallation();
    expect(repos.repositories.map((r) => r.full_name)).toEqual(["octo-org/service"]);
    const { data: full } = await octokit.rest.repos.get({ owner: "octo-org", repo: "service" });
    expect(full).toMatchObject({ id: repo.id, private: false, default_branch: "main" });
    expect(full.clone_url).toBe(`${gh.webUrl}/octo-org/service.git`);
  });

  it("refuses missing or wrong credentials with GitHub's 401, and hides other installations' repositories", async () => {
    const anonymous = await fetch(`${gh.apiUrl}/repos/octo-org/service`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ message: "Requires authentication" });
    const bogus = await fetch(`${gh.apiUrl}/repos/octo-org/service`, {
      headers: { authorization: "token ghs_nope" },
    });
    expect(bogus.status).toBe(401);
    const noJwt = await fetch(`${gh.apiUrl}/app`, { headers: { authorization: "token ghs_nope" } });
    expect(noJwt.status).toBe(401);
    // a JWT whose signature does not match the app's key is refused
    const { token: jwt } = await createAppAuth({ appId: gh.appId, privateKey: gh.privateKeyPem })({
      type: "app",
    });
    expect((await fetch(`${gh.apiUrl}/app`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(
      200,
    );
    const [header, claims, signature] = jwt.split(".");
    const flipped = `${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`;
    const forged = await fetch(`${gh.apiUrl}/app`, {
      headers: { authorization: `Bearer ${header}.${claims}.${flipped}` },
    });
    expect(forged.status).toBe(401);
    const otherApp = createAppAuth({ appId: gh.appId + 1, privateKey: gh.privateKeyPem });
    const { token: otherJwt } = await otherApp({ type: "app" });
    expect(
      (await fetch(`${gh.apiUrl}/app`, { headers: { authorization: `Bearer ${otherJwt}` } })).status,
    ).toBe(401);

    await gh.createRepo("someone-else", "private-stuff", { private: true });
    await expect(
      octokit.rest.repos.get({ owner: "someone-else", repo: "private-stuff" }),
    ).rejects.toMatchObject({
      status: 404,
      response: { data: { message: "Not Found" } },
    });
    const other = appOctokit(gh.installation("someone-else").id);
    const { data } = await other.rest.repos.get({ owner: "someone-else", repo: "private-stuff" });
    expect(data.private).toBe(true);

    await gh.createRepo("octo-org", "not-covered", { installed: false });
    await expect(octokit.rest.repos.get({ owner: "octo-org", repo: "not-covered" })).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe("history, compare, commits and blobs", () => {
  let base: string;
  let head: string;
  const png = Buffer.from([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0x00,
  ]);

  beforeAll(async () => {
    base = await repo.commit({
      message: "init",
      files: { "README.md": "# service\n\nline 3\n", "config/old.yml": "a: 1\n", "keep.txt": "same\n" },
    });
    head = await repo.commit({
      message: "add config and a logo",
      files: {
        "README.md": "# service\n\nline 3\nline 4 with a secret\n",
        ".npmrc": "//feed/:_password=abc\n",
        "logo.png": png,
        "config/old.yml": null,
      },
    });
  });

  it("compares with GitHub's hunk-only patches, statuses and counts", async () => {
    const { data } = await octokit.rest.repos.compareCommitsWithBasehead({
      owner: "octo-org",
      repo: "service",
      basehead: `${base}...${head}`,
    });
    expect(data).toMatchObject({ status: "ahead", ahead_by: 1, behind_by: 0, total_commits: 1 });
    expect(data.commits.map((c) => c.sha)).toEqual([head]);
    expect(data.commits[0].commit.message).toBe("add config and a logo");
    const files = Object.fromEntries((data.files ?? []).map((f) => [f.filename, f]));
    expect(Object.keys(files).sort()).toEqual([".npmrc", "README.md", "config/old.yml", "logo.png"]);
    expect(files["README.md"]).toMatchObject({ status: "modified", additions: 1, deletions: 0, changes: 1 });
    expect(files["README.md"].patch).toBe("@@ -1,3 +1,4 @@\n # service\n \n line 3\n+line 4 with a secret");
    expect(files[".npmrc"]).toMatchObject({
      status: "added",
      additions: 1,
      patch: "@@ -0,0 +1 @@\n+//feed/:_password=abc",
    });
    expect(files["config/old.yml"]).toMatchObject({ status: "removed", deletions: 1 });
    expect(files["logo.png"].status).toBe("added");
    expect(files["logo.png"]).not.toHaveProperty("patch");

    const blob = await octokit.rest.git.getBlob({
      owner: "octo-org",
      repo: "service",
      file_sha: files["logo.png"].sha!,
    });
    expect(blob.data.encoding).toBe("base64");
    expect(blob.data.size).toBe(png.length);
    expect(Buffer.from(blob.data.content, "base64")).toEqual(png);
  });

  it("leaves the patch out of a diff over the size limit but still counts its lines", async () => {
    const big = `${Array.from({ length: 2000 }, (_, i) => `line ${i} ${"x".repeat(40)}`).join("\n")}\n`;
    const sha = await repo.commit({ message: "big file", files: { "big.txt": big } });
    gh.limits.patchBytes = 10_000;
    try {
      const { data } = await octokit.rest.repos.getCommit({ owner: "octo-org", repo: "service", ref: sha });
      expect(data.files?.[0]).toMatchObject({ filename: "big.txt", additions: 2000 });
      expect(data.files?.[0]).not.toHaveProperty("patch");
      expect(data.stats).toMatchObject({ additions: 2000, deletions: 0, total: 2000 });
      const blob = await octokit.rest.git.getBlob({
        owner: "octo-org",
        repo: "service",
        file_sha: data.files![0].sha!,
      });
      expect(Buffer.from(blob.data.content, "base64").toString()).toBe(big);
    } finally {
      gh.limits.patchBytes = 1024 * 1024;
    }
  });

  it("lists at most 300 files in a compare and pages a commit's files 300 at a time", async () => {
    const wide = await gh.createRepo("octo-org", "wide");
    const first = await wide.commit({ files: { "seed.txt": "seed\n" } });
    const files = Object.fromEntries(Array.from({ length: 650 }, (_, i) => [`f/${i}.txt`, `value ${i}\n`]));
    const sha = await wide.commit({ message: "650 files", files });

    const { data: comparison } = await octokit.rest.repos.compareCommitsWithBasehead({
      owner: "octo-org",
      repo: "wide",
      basehead: `${first}...${sha}`,
    });
    expect(comparison.files).toHaveLength(300);

    const seen = new Set<string>();
    let page = 1;
    let link = "";
    do {
      const response = await octokit.rest.repos.getCommit({
        owner: "octo-org",
        repo: "wide",
        ref: sha,
        page,
      });
      for (const f of response.data.files ?? []) seen.add(f.filename);
      expect(response.data.stats?.additions).toBe(650);
      link = response.headers.link ?? "";
      page++;
    } while (link.includes('rel="next"'));
    expect(page - 1).toBe(3);
    expect(seen.size).toBe(650);
  });

  it("limits an unpaged compare to the 250 most recent commits and pages the rest with files on page 1 only", async () => {
    const long = await gh.createRepo("octo-org", "long");
    const start = await long.commit({ files: { "n.txt": "0\n" } });
    const shas = await long.commitMany(
      Array.from({ length: 260 }, (_, i) => ({ message: `step ${i + 1}`, files: { "n.txt": `${i + 1}\n` } })),
    );
    const unpaged = await octokit.rest.repos.compareCommitsWithBasehead({
      owner: "octo-org",
      repo: "long",
      basehead: `${start}...${shas[259]}`,
    });
    expect(unpaged.data.total_commits).toBe(260);
    expect(unpaged.data.commits).toHaveLength(250);
    expect(unpaged.data.commits.at(-1)?.sha).toBe(shas[259]);
    expect(unpaged.data.commits[0].sha).toBe(shas[10]);
    expect(unpaged.headers.link).toBeUndefined();

    const pages = [];
    for (let page = 1; page <= 3; page++) {
      const { data, headers } = await octokit.rest.repos.compareCommitsWithBasehead({
        owner: "octo-org",
        repo: "long",
        basehead: `${start}...${shas[259]}`,
        per_page: 100,
        page,
      });
      pages.push({ shas: data.commits.map((c) => c.sha), files: data.files, link: headers.link ?? "" });
    }
    expect(pages.flatMap((p) => p.shas)).toEqual(shas);
    expect(pages[0].files?.map((f) => f.filename)).toEqual(["n.txt"]);
    expect(pages[1].files).toBeUndefined();
    expect(pages[0].link).toContain('rel="next"');
    expect(pages[2].link).not.toContain('rel="next"');

    const listed = await octokit.paginate(octokit.rest.repos.listCommits, {
      owner: "octo-org",
      repo: "long",
      sha: shas[259],
      per_page: 100,
    });
    expect(listed).toHaveLength(261);
    expect(listed[0].sha).toBe(shas[259]);
  });

  it("answers GitHub's errors for unknown commits, unrelated history and pruned force-pushed commits", async () => {
    await expect(
      octokit.rest.repos.getCommit({ owner: "octo-org", repo: "service", ref: "f".repeat(40) }),
    ).rejects.toMatchObject({ status: 422 });
    await expect(
      octokit.rest.repos.compareCommitsWithBasehead({
        owner: "octo-org",
        repo: "service",
        basehead: `${"e".repeat(40)}...${head}`,
      }),
    ).rejects.toMatchObject({ status: 404, response: { data: { message: "Not Found" } } });

    const orphan = await repo.commit({ branch: "orphan", orphan: true, files: { "x.txt": "x\n" } });
    await expect(
      octokit.rest.repos.compareCommitsWithBasehead({
        owner: "octo-org",
        repo: "service",
        basehead: `${head}...${orphan}`,
      }),
    ).rejects.toMatchObject({ status: 404, message: expect.stringContaining("No common ancestor") });

    const force = await gh.createRepo("octo-org", "force");
    const a = await force.commit({ files: { "a.txt": "a\n" } });
    const b = await force.commit({ files: { "b.txt": "b\n" } });
    await force.resetBranch("main", a);
    const c = await force.commit({ files: { "c.txt": "token here\n" } });
    const payload = await force.pushPayload({ before: b, after: c });
    expect(payload).toMatchObject({ forced: true, created: false, deleted: false, before: b, after: c });
    expect(payload.commits.map((x) => x.id)).toEqual([c]);
    const diverged = await octokit.rest.repos.compareCommitsWithBasehead({
      owner: "octo-org",
      repo: "force",
      basehead: `${b}...${c}`,
    });
    expect(diverged.data).toMatchObject({ status: "diverged", ahead_by: 1, behind_by: 1 });
    expect(diverged.data.files?.map((f) => f.filename)).toEqual(["c.txt"]);

    await force.prune();
    await expect(
      octokit.rest.repos.compareCommitsWithBasehead({
        owner: "octo-org",
        repo: "force",
        basehead: `${b}...${c}`,
      }),
    ).rejects.toMatchObject({ status: 404 });
  });
});

describe("webhook payloads", () => {
  const recorded = (name: string) => webhookExamples.find((d) => d.name === name)!.examples;

  it("builds push payloads with the recorded payloads' fields, for new branches, pushes and deletions", async () => {
    const repo = await gh.createRepo("octo-org", "payloads");
    await repo.commit({ files: { "README.md": "hi\n" } });
    const base = await repo.tip();
    const feature = await repo.commit({ branch: "feature", from: base!, files: { "feature.txt": "new\n" } });
    const created = await repo.pushPayload({ branch: "feature", before: ZERO_SHA });
    expect(created).toMatchObject({
      ref: "refs/heads/feature",
      created: true,
      forced: false,
      after: feature,
    });
    expect(created.commits.map((c) => c.id)).toEqual([feature]);
    expect(created.commits[0]).toMatchObject({ added: ["feature.txt"], removed: [], modified: [] });
    expect(created.head_commit?.id).toBe(feature);
    expect(created.installation?.id).toBe(gh.installation("octo-org").id);
    expect(created.repository.full_name).toBe("octo-org/payloads");
    expect(typeof created.repository.pushed_at).toBe("number");

    const withCommits = recorded("push").find(
      (p) => "installation" in p && (p.commits as unknown[]).length > 0,
    )!;
    expect(missingKeys(withCommits, created)).toEqual([]);
    const example = withCommits as { commits: object[]; repository: object; head_commit: object };
    expect(
      missingKeys(example.commits[0], created.commits[0]).filter(
        (k) => k !== "author.username" && k !== "committer.username",
      ),
    ).toEqual([]);
    expect(missingKeys(example.repository, created.repository)).toEqual([]);

    const deleted = await repo.pushPayload({ branch: "feature", before: feature, deleted: true });
    expect(deleted).toMatchObject({ deleted: true, after: ZERO_SHA, commits: [], head_commit: null });
  });

  it("builds public, publicized and installation payloads like the recorded ones", async () => {
    const secret = await gh.createRepo("octo-org", "was-private", { private: true });
    secret.setVisibility("public");
    const pub = secret.publicPayload();
    expect(pub.repository.private).toBe(false);
    expect(missingKeys(recorded("public").find((p) => "installation" in p)!, pub)).toEqual([]);
    const publicized = secret.publicizedPayload();
    expect(publicized.action).toBe("publicized");
    const recordedPublicized = recorded("repository").filter(
      (p) => (p as { action: string }).action === "publicized",
    );
    expect(missingKeys(recordedPublicized[0], publicized)).toEqual([]);

    const created = gh.installationCreatedPayload("octo-org");
    const recordedCreated = recorded("installation").find(
      (p) => (p as { action: string }).action === "created",
    )!;
    expect(missingKeys(recordedCreated, created)).toEqual([]);
    expect(created.repositories?.map((r) => r.full_name)).toContain("octo-org/was-private");
    const added = gh.installationRepositoriesAddedPayload("octo-org", [secret]);
    expect(missingKeys(recorded("installation_repositories")[0], added)).toEqual([]);
    expect(added.repositories_added.map((r) => r.id)).toEqual([secret.id]);
  });
});

describe("git smart HTTP", () => {
  it("clones with an installation token and refuses without one", async () => {
    const repo = await gh.createRepo("octo-org", "cloneable");
    await repo.commit({ files: { "README.md": "line 4 with a secret\n" } });
    await repo.commit({ branch: "orphan", orphan: true, files: { "x.txt": "x\n" } });
    const dir = mkdtempSync(path.join(tmpdir(), "patrol-clone-"));
    try {
      const token = gh.createInstallationToken("octo-org");
      const ok = await git(dir, [
        "clone",
        "--quiet",
        "--no-checkout",
        repo.authenticatedCloneUrl(token),
        "ok",
      ]);
      expect(ok.stderr).toBe("");
      expect(ok.status).toBe(0);
      const log = await git(path.join(dir, "ok"), ["log", "--all", "--format=%H"]);
      const cloned = log.stdout.trim().split("\n");
      expect(cloned).toContain(await repo.tip());
      expect(cloned).toContain(await repo.tip("orphan"));

      const blobless = await git(dir, [
        "clone",
        "--quiet",
        "--bare",
        "--filter=blob:none",
        repo.authenticatedCloneUrl(token),
        "blobless",
      ]);
      expect(blobless.status).toBe(0);
      // the blob is fetched on demand, through the same authenticated remote
      const readme = await git(path.join(dir, "blobless"), ["show", "HEAD:README.md"]);
      expect(readme.stdout).toContain("line 4 with a secret");

      const refused = await git(dir, ["clone", "--quiet", repo.cloneUrl, "anonymous"]);
      expect(refused.status).not.toBe(0);
      const wrong = await git(dir, ["clone", "--quiet", repo.authenticatedCloneUrl("ghs_wrong"), "wrong"]);
      expect(wrong.status).not.toBe(0);
      expect(wrong.stderr).toMatch(/Authentication failed|401/);
      expect(
        gh.requests.filter((r) => r.path.endsWith("/info/refs") && r.status === 401).length,
      ).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("webhook deliveries", () => {
  let receiver: Server;
  let url: string;
  let answer = 202;
  const received: { headers: IncomingMessage["headers"]; body: Buffer }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/github/webhooks`;
  });
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  it("signs as GitHub documents (its published test vector)", () => {
    expect(signWebhook("Hello, World!", "It's a Secret to Everybody")).toBe(
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
  });

  it("delivers with GitHub's headers, records outcomes, lists them with cursor paging and redelivers", async () => {
    const secret = "s3cret";
    const payload = await repo.pushPayload({ before: ZERO_SHA });
    answer = 503;
    const failed = await gh.deliver({ url, event: "push", payload, secret });
    expect(failed).toMatchObject({
      statusCode: 503,
      status: "Invalid HTTP Response: 503",
      redelivery: false,
    });
    const first = received.at(-1)!;
    expect(first.headers).toMatchObject({
      "x-github-event": "push",
      "x-github-delivery": failed.guid,
      "x-github-hook-id": String(gh.hookId),
      "x-github-hook-installation-target-type": "integration",
      "x-github-hook-installation-target-id": String(gh.appId),
      "content-type": "application/json",
    });
    expect(first.headers["user-agent"]).toMatch(/^GitHub-Hookshot\//);
    const expected = `sha256=${createHmac("sha256", secret).update(first.body).digest("hex")}`;
    expect(first.headers["x-hub-signature-256"]).toBe(expected);
    expect(JSON.parse(first.body.toString())).toEqual(payload);

    answer = 202;
    for (let i = 0; i < 4; i++) {
      await gh.deliver({ url, event: "ping", payload: { zen: `zen ${i}`, hook_id: gh.hookId }, secret });
    }

    const asApp = appOctokit();
    const firstPage = await asApp.rest.apps.listWebhookDeliveries({ per_page: 2 });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.headers.link).toMatch(/cursor=v1_\d+.*rel="next"/);
    const all = await asApp.paginate(asApp.rest.apps.listWebhookDeliveries, { per_page: 2 });
    expect(all.map((d) => d.guid).at(-1)).toBe(failed.guid);
    expect(all).toHaveLength(5);
    const failedItem = all.find((d) => d.status_code >= 400)!;
    expect(failedItem).toMatchObject({
      id: failed.id,
      event: "push",
      action: null,
      installation_id: gh.installation("octo-org").id,
      repository_id: repo.id,
      redelivery: false,
    });

    const attempt = await asApp.rest.apps.redeliverWebhookDelivery({ delivery_id: failed.id });
    expect(attempt.status).toBe(202);
    await gh.settled();
    const again = received.at(-1)!;
    expect(again.headers["x-github-delivery"]).toBe(failed.guid);
    expect(again.body).toEqual(first.body);
    expect(gh.deliveries.at(-1)).toMatchObject({
      guid: failed.guid,
      redelivery: true,
      statusCode: 202,
      status: "OK",
    });
  });

  it("records a receiver that is down as a failed delivery, and posts without the fake too", async () => {
    const down = await gh.deliver({
      url: "http://127.0.0.1:9/hooks",
      event: "push",
      payload: {},
      secret: "x",
    });
    expect(down).toMatchObject({ statusCode: 0, status: "failed to connect to host" });
    const direct = await postWebhook({ url, event: "public", payload: "{not json", secret: "x" });
    expect(direct.status).toBe(202);
    expect(received.at(-1)?.body.toString()).toBe("{not json");
  });
});

describe("faults", () => {
  it("serves secondary and primary rate limits that Octokit's throttling honours, and 5xx that it retries", async () => {
    rateLimits.length = 0;
    const secondary = gh.faults.add({
      kind: "secondary-rate-limit",
      status: 429,
      retryAfterSeconds: 3,
      times: 1,
      path: "/repos/*",
    });
    await octokit.rest.repos.get({ owner: "octo-org", repo: "service" });
    expect(secondary.hits).toBe(1);
    expect(rateLimits).toEqual([{ kind: "secondary", retryAfter: 3 }]);

    const primary = gh.faults.add({
      kind: "primary-rate-limit",
      resetInSeconds: 2,
      times: 1,
      path: "/repos/octo-org/service",
    });
    await octokit.rest.repos.get({ owner: "octo-org", repo: "service" });
    expect(primary.hits).toBe(1);
    expect(rateLimits[1].kind).toBe("primary");
    // Octokit waits until one second after the reset GitHub announced
    expect(rateLimits[1].retryAfter).toBeGreaterThanOrEqual(2);
    expect(rateLimits[1].retryAfter).toBeLessThanOrEqual(4);

    gh.clearRequests();
    gh.faults.add({ kind: "error", status: 502, times: 2 });
    const { status } = await octokit.rest.repos.get({ owner: "octo-org", repo: "service" });
    expect(status).toBe(200);
    expect(gh.requests.map((r) => r.status)).toEqual([502, 502, 200]);
    expect(gh.requests.map((r) => r.fault)).toEqual(["error", "error", undefined]);
  });

  it("adds latency, injects a fraction of errors, resets connections and carries rate-limit headers", async () => {
    const token = gh.createInstallationToken("octo-org");
    const get = () =>
      fetch(`${gh.apiUrl}/repos/octo-org/service`, { headers: { authorization: `token ${token}` } });
    const normal = await get();
    expect(normal.headers.get("x-ratelimit-limit")).toBe("5000");
    expect(Number(normal.headers.get("x-ratelimit-remaining"))).toBeLessThan(5000);
    expect(Number(normal.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);

    const slow = gh.faults.add({ kind: "latency", ms: 150 });
    const started = performance.now();
    await get();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    slow.remove();

    const flaky = gh.faults.add({ kind: "error", status: 500, probability: 0.3 });
    const statuses = [];
    for (let i = 0; i < 60; i++) statuses.push((await get()).status);
    flaky.remove();
    const errors = statuses.filter((s) => s === 500).length;
    expect(errors).toBe(flaky.hits);
    expect(errors).toBeGreaterThan(5);
    expect(errors).toBeLessThan(35);

    gh.faults.add({ kind: "reset", times: 1 });
    await expect(get()).rejects.toThrow();
    expect((await get()).status).toBe(200);
  });
});

describe("secret-scanning partner alerts", () => {
  it("serves the configured public keys without authentication, and signs alerts that verify against them", async () => {
    const signer = createSecretScanningKey();
    gh.setSecretScanningKeys([signer.publicKey]);
    const response = await fetch(`${gh.apiUrl}/meta/public_keys/secret_scanning`);
    const { public_keys } = (await response.json()) as { public_keys: SecretScanningKey[] };
    expect(public_keys).toEqual([signer.publicKey]);
    expect(signer.keyIdentifier).toMatch(/^[0-9a-f]{64}$/);

    const body = JSON.stringify([
      { token: "t", type: "azure_devops_pat", url: "https://x", source: "content" },
    ]);
    const headers = signer.headers(body);
    const signature = Buffer.from(headers["github-public-key-signature"], "base64");
    const key = public_keys.find((k) => k.key_identifier === headers["github-public-key-identifier"])!.key;
    expect(verify("sha256", Buffer.from(body), { key, dsaEncoding: "der" }, signature)).toBe(true);
    expect(verify("sha256", Buffer.from(`${body} `), { key, dsaEncoding: "der" }, signature)).toBe(false);
  });
});

describe("SMTP capture", () => {
  let smtp: SmtpCapture;
  beforeAll(async () => {
    smtp = await startSmtpCapture();
  });
  afterAll(() => smtp.close());

  const send = (to: string, options: { socketTimeout?: number } = {}) =>
    nodemailer.createTransport({ url: smtp.url, ...options } as never).sendMail({
      from: "patrol@example.com",
      to,
      subject: "PAT leaked",
      text: "revoked",
      html: "<p>revoked</p>",
    });

  it("captures and parses what nodemailer sends", async () => {
    await send("alice@example.com");
    const [mail] = await smtp.waitFor(1, 2000);
    expect(mail).toMatchObject({
      to: ["alice@example.com"],
      from: "patrol@example.com",
      subject: "PAT leaked",
      text: "revoked",
      envelope: { from: "patrol@example.com", to: ["alice@example.com"] },
    });
    expect(mail.html).toContain("<p>revoked</p>");
    expect(mail.raw.toString()).toContain("Subject: PAT leaked");
    await expect(smtp.waitFor(5, 100)).rejects.toThrow(/1 of 5/);
  });

  it("refuses and hangs on demand, then heals", async () => {
    smtp.clear();
    smtp.refuse({ stage: "rcpt", code: 451, times: 1 });
    await expect(send("bob@example.com")).rejects.toMatchObject({ responseCode: 451 });
    smtp.refuse({ stage: "data", code: 554, times: 1 });
    await expect(send("bob@example.com")).rejects.toMatchObject({ responseCode: 554 });
    smtp.hang({ stage: "data", times: 1 });
    await expect(send("bob@example.com", { socketTimeout: 300 })).rejects.toThrow(/timeout/i);
    expect(smtp.messages).toHaveLength(0);
    expect(smtp.attempts).toBe(3);
    await send("bob@example.com");
    expect(smtp.messages.map((m) => m.to)).toEqual([["bob@example.com"]]);
  });
});

/**
 * Dotted paths of keys in the recorded `example` (nested objects too) missing from `actual`. `username` is
 * left out: GitHub adds it when a commit's email belongs to a GitHub account, and the fake's do not; so are
 * the entries of `permissions`, which are the recorded app's, not a shape.
 */
function missingKeys(example: unknown, actual: unknown, prefix = ""): string[] {
  if (!example || typeof example !== "object" || Array.isArray(example)) return [];
  if (!actual || typeof actual !== "object") return [prefix || "(root)"];
  const missing: string[] = [];
  for (const [key, value] of Object.entries(example)) {
    const where = prefix ? `${prefix}.${key}` : key;
    if (!(key in actual) && key !== "username") {
      missing.push(where);
      continue;
    }
    const other = (actual as Record<string, unknown>)[key];
    if (value && typeof value === "object" && !Array.isArray(value) && key !== "permissions")
      missing.push(...missingKeys(value, other, where));
  }
  return missing;
}
