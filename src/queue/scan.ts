/**
 * The `scan` queue: one job per push, holding only a reference to it (PushReference). The processor reads the
 * push's added content from GitHub, runs the detector, and queues one respond job per token found (its
 * fingerprint and locations, never the token).
 */
import type { Job, JobsOptions, Queue } from "bullmq";
import type { Logger } from "pino";
import type { GitHubClient, PushReference } from "../github/index.js";
import { scanPush } from "../github/index.js";
import { bytesScanned, filesSkipped } from "../metrics/index.js";
import { LeakReportCollector } from "./leak-reports.js";

export const SCAN_QUEUE = "scan";
export type ScanJobData = PushReference;

/** GitHub redelivers with the same X-GitHub-Delivery within 3 days: one scan per delivery in that window. */
const DEDUPLICATION_MS = 3 * 24 * 3600 * 1000;

export function scanJob(ref: PushReference): { name: string; data: ScanJobData; opts: JobsOptions } {
  const id = `push-${ref.deliveryId}`;
  return {
    name: "push",
    data: ref,
    opts: {
      jobId: id,
      deduplication: { id, ttl: DEDUPLICATION_MS },
      attempts: 10,
      backoff: { type: "exponential", delay: 2000, jitter: 0.5 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    },
  };
}

export interface GitHubAccess {
  /** An Octokit authenticated as the installation (tokens are cached and renewed by Probot). */
  installationClient(installationId: number): Promise<GitHubClient>;
}

export interface ScanDeps {
  github: GitHubAccess;
  respondQueue: Queue;
  maxBlobBytes: number;
  logger: Logger;
}

export interface ScanJobResult {
  mode: "compare" | "commits";
  commits: number;
  files: number;
  bytes: number;
  findings: number;
  tokens: number;
  skipped: number;
}

export async function processScanJob(deps: ScanDeps, job: Job<ScanJobData>): Promise<ScanJobResult> {
  const ref = job.data;
  const gh = await deps.github.installationClient(ref.installationId);
  // Legacy candidates whose checksum fails are looked up too: the store, not the checksum, decides (DESIGN §2.2).
  const result = await scanPush(gh, ref, {
    maxBlobBytes: deps.maxBlobBytes,
    detect: { legacyCandidates: true },
  });
  bytesScanned.inc(result.bytes);
  for (const skipped of result.skipped) {
    filesSkipped.inc({ reason: skipped.reason });
    deps.logger.warn(
      { repository: ref.repository.fullName, commit: skipped.commit, path: skipped.path, size: skipped.size },
      "file not scanned: larger than SCAN_MAX_BLOB_BYTES",
    );
  }
  if (result.missingCommits.length > 0)
    deps.logger.warn(
      { repository: ref.repository.fullName, commits: result.missingCommits },
      "pushed commits no longer on GitHub (force-pushed away): not scanned",
    );
  const reports = new LeakReportCollector({
    source: "push",
    correlationId: ref.deliveryId,
    receivedAt: ref.receivedAt,
  });
  for (const found of result.findings)
    reports.add(found.finding, {
      repository: ref.repository.fullName,
      commit: found.commit,
      path: found.path,
      line: found.line,
      url: found.url,
    });
  if (reports.tokens > 0) await deps.respondQueue.addBulk(reports.jobs());
  return {
    mode: result.mode,
    commits: result.commits,
    files: result.files,
    bytes: result.bytes,
    findings: result.findings.length,
    tokens: reports.tokens,
    skipped: result.skipped.length,
  };
}
