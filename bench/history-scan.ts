/**
 * `npm run bench:history`: a whole-history scan of a generated repository (10,000 commits by default) served
 * by the fake GitHub over smart HTTP. Prints the history job's time (clone with the installation token, then
 * `git log -p --all` through the detector, grouped by token) beside `git clone --mirror` + `git log -p --all`
 * alone on the same repository.
 *
 *   npm run bench:history [-- --commits 10000]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import type { HistoryJobResult } from "../src/queue/history.js";
import { processHistoryJob } from "../src/queue/history.js";
import type { LeakReport } from "../src/respond/index.js";
import { gitLogArgs } from "../src/sources/index.js";
import { mintAzdo } from "../src/tokens/index.js";
import { startFakeGitHub } from "../test/support/fake-github/index.js";

const { values } = parseArgs({ options: { commits: { type: "string", default: "10000" } } });
const commits = Number(values.commits);
const seconds = (ms: number) => (ms / 1000).toFixed(2);

/** Runs git to the end, output discarded; resolves with the bytes it wrote. */
function git(args: string[], cwd?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let bytes = 0;
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      bytes += d.length;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(bytes) : reject(new Error(`git ${args[0]}: ${stderr}`)),
    );
  });
}

const gh = await startFakeGitHub();
const work = mkdtempSync(path.join(tmpdir(), "patrol-bench-history-"));
try {
  const repo = await gh.createRepo("bench", "history");
  const leaked = mintAzdo();
  const started = Date.now();
  const batch = 1000;
  for (let at = 0; at < commits; at += batch) {
    const specs = Array.from({ length: Math.min(batch, commits - at) }, (_, k) => {
      const i = at + k;
      const lines = Array.from({ length: 8 }, (_, l) => `line ${l} of change ${i}: ${"x".repeat(40)}`);
      // One token, added again every 1000 commits: one incident with many locations.
      if (i % 1000 === 500) lines.push(`PAT=${leaked}`);
      return { message: `change ${i}`, files: { [`src/module-${i % 200}.txt`]: `${lines.join("\n")}\n` } };
    });
    await repo.commitMany(specs);
  }
  console.log(`generated ${commits} commits in ${seconds(Date.now() - started)} s`);
  const token = gh.createInstallationToken("bench");

  // Baseline: git alone.
  const t0 = Date.now();
  const mirror = path.join(work, "baseline.git");
  await git(["clone", "--mirror", "--quiet", repo.authenticatedCloneUrl(token), mirror]);
  const t1 = Date.now();
  const logBytes = await git(gitLogArgs({ all: true }), mirror);
  const t2 = Date.now();

  // patrol's history job, as a worker runs it (its respond jobs are counted instead of queued).
  const reports: LeakReport[] = [];
  const job = {
    data: {
      kind: "history" as const,
      deliveryId: "bench",
      trigger: "manual" as const,
      installationId: gh.installation("bench").id,
      repository: { id: 1, fullName: "bench/history", private: false },
      receivedAt: Date.now(),
    },
    updateProgress: async () => {},
  };
  const t3 = Date.now();
  const result: HistoryJobResult = await processHistoryJob(
    {
      github: { installationToken: async () => gh.createInstallationToken("bench") },
      respondQueue: {
        addBulk: async (jobs: { data: LeakReport }[]) => reports.push(...jobs.map((j) => j.data)),
      } as never,
      webBaseUrl: gh.webUrl,
      tempDir: work,
      maxCloneBytes: 4 * 1024 * 1024 * 1024,
      logger: pino({ level: "silent" }),
    },
    job as never,
  );
  const t4 = Date.now();

  console.log(`git log -p --all: ${(logBytes / 1e6).toFixed(1)} MB`);
  console.log(`git clone --mirror        ${seconds(t1 - t0)} s`);
  console.log(`git log -p --all          ${seconds(t2 - t1)} s`);
  console.log(`git alone (clone + log)   ${seconds(t2 - t0)} s`);
  console.log(
    `patrol history job        ${seconds(t4 - t3)} s  (${result.commits} commits, ${(result.bytes / 1e6).toFixed(1)} MB)`,
  );
  console.log(
    `found ${result.tokens} token(s) in ${result.findings} finding(s); respond jobs: ${reports.length}, locations in the first: ${reports[0]?.locations.length ?? 0}`,
  );
  if (result.tokens !== 1 || reports[0]?.locations.length !== Math.floor((commits + 499) / 1000))
    throw new Error("the scan did not find the planted token at each of its commits");
} finally {
  await gh.close();
  rmSync(work, { recursive: true, force: true });
}
