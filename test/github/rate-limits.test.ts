/**
 * GitHub's rate limits, on the fake GitHub: patrol's installation client waits as it is told — `retry-after` for a
 * secondary limit (403 or 429), `x-ratelimit-reset` for a primary one — and then succeeds, instead of failing the
 * scan job (which would retry on its own short backoff, ignoring the wait).
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createGitHubApp } from "../../src/github/index.js";
import { type FakeGitHub, type FakeRepository, startFakeGitHub } from "../support/fake-github/index.js";

let gh: FakeGitHub;
let repo: FakeRepository;
let basehead: string;

beforeAll(async () => {
  gh = await startFakeGitHub();
  repo = await gh.createRepo("octo", "app");
  const base = await repo.commit({ message: "init", files: { "README.md": "# app\n" } });
  const head = await repo.commit({ files: { "a.txt": "a\n" } });
  basehead = `${base}...${head}`;
});
afterAll(async () => {
  await gh.close();
});

async function compareAfter(fault: Parameters<FakeGitHub["faults"]["add"]>[0]) {
  const probot = createGitHubApp(
    loadConfig({ ...gh.env("s"), NODE_ENV: "test" }),
    pino({ level: "silent" }),
  )!;
  const client = await probot.auth(gh.installation("octo").id);
  gh.clearRequests();
  gh.faults.add({ ...fault, path: "/repos/octo/app/compare/*" });
  const response = await client.request("GET /repos/{owner}/{repo}/compare/{basehead}", {
    owner: "octo",
    repo: "app",
    basehead,
  });
  const asked = gh.requests.filter((r) => r.path.includes("/compare/"));
  return { status: response.status, asked };
}

describe("GitHub rate limits", () => {
  for (const status of [403, 429] as const)
    it(`waits out a secondary limit (${status} + retry-after) and tries again`, async () => {
      const { status: final, asked } = await compareAfter({
        kind: "secondary-rate-limit",
        status,
        retryAfterSeconds: 1,
        times: 2,
      });
      expect(final).toBe(200);
      expect(asked.map((r) => r.status)).toEqual([status, status, 200]);
      for (let i = 1; i < asked.length; i++)
        expect(asked[i].at - asked[i - 1].at).toBeGreaterThanOrEqual(990);
    });

  it("waits for x-ratelimit-reset after a primary limit", async () => {
    const added = Date.now();
    const { status, asked } = await compareAfter({ kind: "primary-rate-limit", resetInSeconds: 1 });
    expect(status).toBe(200);
    expect(asked[0].status).toBe(403);
    expect(asked.at(-1)!.status).toBe(200);
    expect(asked.at(-1)!.at).toBeGreaterThanOrEqual(added + 1000);
  });
});
