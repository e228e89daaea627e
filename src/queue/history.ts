/**
 * The `history` queue: one job per repository whose whole history must be scanned (it went public, or the
 * app was installed on it). Its own queue so a long clone never holds up push scans. The processor clones the
 * repository with the installation token into a temp dir, streams `git log -p --all` through the detector, and
 * queues one respond job per token with all its locations (a token in 50 commits is one incident, one mail).
 */
import { type Job, type JobsOptions, type Queue, UnrecoverableError } from "bullmq";
import type { Logger } from "pino";
import { scanStream } from "../detect/index.js";
import { CloneTooLargeError, cloneForHistory, type HistoryReference, permalink } from "../github/index.js";
import { bytesScanned } from "../metrics/index.js";
import { gitHistory, HistoryTally } from "../sources/index.js";
import { LeakReportCollector } from "./leak-reports.js";

export const HISTORY_QUEUE = "history";
export type HistoryJobData = HistoryReference;

export function historyJob(ref: HistoryReference): { name: string; data: HistoryJobData; opts: JobsOptions } {
  return {
    name: ref.trigger,
    data: ref,
    opts: {
      // One job per repository and delivery (a redelivery is the same job) …
      jobId: `history-${ref.repository.id}-${ref.deliveryId}`,
      // … and at most one per repository while one is waiting or running (BullMQ's simple deduplication).
      deduplication: { id: `history-${ref.repository.id}` },
      attempts: 5,
      backoff: { type: "exponential", delay: 10_000, jitter: 0.5 },
      removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    },
  };
}

export interface HistoryAccess {
  /** A fresh installation access token (for git over HTTPS); it never goes into job data or logs. */
  installationToken(installationId: number): Promise<string>;
}

export interface HistoryDeps {
  github: HistoryAccess;
  respondQueue: Queue;
  webBaseUrl: string;
  tempDir: string;
  maxCloneBytes: number;
  logger: Logger;
}

export interface HistoryProgress {
  phase: "cloning" | "scanning" | "done";
  bytes: number;
  commits: number;
  tokens: number;
}

export interface HistoryJobResult {
  commits: number;
  bytes: number;
  findings: number;
  tokens: number;
  /** Locations seen beyond what one respond job carries. */
  locationsDropped: number;
}

const PROGRESS_EVERY_MS = 1000;

export async function processHistoryJob(
  deps: HistoryDeps,
  job: Job<HistoryJobData>,
): Promise<HistoryJobResult> {
  const ref = job.data;
  const progress = (p: HistoryProgress) => job.updateProgress(p as unknown as object);
  await progress({ phase: "cloning", bytes: 0, commits: 0, tokens: 0 });
  const token = await deps.github.installationToken(ref.installationId);
  let clone: Awaited<ReturnType<typeof cloneForHistory>>;
  try {
    clone = await cloneForHistory({
      webBaseUrl: deps.webBaseUrl,
      fullName: ref.repository.fullName,
      token,
      tempDir: deps.tempDir,
      maxBytes: deps.maxCloneBytes,
    });
  } catch (error) {
    if (error instanceof CloneTooLargeError) throw new UnrecoverableError(error.message);
    throw error;
  }
  const htmlUrl = `${deps.webBaseUrl.replace(/\/+$/, "")}/${ref.repository.fullName}`;
  const reports = new LeakReportCollector({
    source: "history",
    correlationId: ref.deliveryId,
    receivedAt: ref.receivedAt,
  });
  const tally = new HistoryTally();
  let found = 0;
  try {
    let lastProgress = Date.now();
    const history = gitHistory(clone.gitDir, { all: true }, tally);
    // Legacy candidates whose checksum fails are looked up too: the store, not the checksum, decides.
    for await (const finding of scanStream(history, { kind: "diff" }, { legacyCandidates: true })) {
      found++;
      const commit = finding.commit ?? "";
      const path = finding.path ?? "";
      const line = finding.line ?? 1;
      reports.add(finding, {
        repository: ref.repository.fullName,
        commit,
        path,
        line,
        url: commit && path ? permalink(htmlUrl, commit, path, line) : null,
      });
      if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = Date.now();
        await progress({
          phase: "scanning",
          bytes: tally.bytes,
          commits: tally.commits,
          tokens: reports.tokens,
        });
      }
    }
  } finally {
    await clone.remove();
  }
  bytesScanned.inc(tally.bytes);
  if (reports.dropped > 0)
    deps.logger.warn(
      { repository: ref.repository.fullName, dropped: reports.dropped },
      "more locations than one respond job carries: the rest are not listed",
    );
  if (reports.tokens > 0) await deps.respondQueue.addBulk(reports.jobs());
  await progress({ phase: "done", bytes: tally.bytes, commits: tally.commits, tokens: reports.tokens });
  deps.logger.info(
    {
      repository: ref.repository.fullName,
      commits: tally.commits,
      bytes: tally.bytes,
      tokens: reports.tokens,
    },
    "history scanned",
  );
  return {
    commits: tally.commits,
    bytes: tally.bytes,
    findings: found,
    tokens: reports.tokens,
    locationsDropped: reports.dropped,
  };
}
