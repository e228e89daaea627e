/**
 * Scans what a push added: each changed file's patch (added lines only) or, for files GitHub sends without a
 * patch, the blob's content. Returns findings with their permalinks; tokens never leave the detector.
 */
import { type DetectOptions, type Finding, scanBuffer } from "../detect/index.js";
import { fetchBlob, type GitHubClient, pushChangedFiles } from "./push-diff.js";
import type { PushReference } from "./push-reference.js";

export interface LocatedFinding {
  finding: Finding;
  commit: string;
  path: string;
  line: number;
  /** A permalink to the line at that commit. */
  url: string;
}

export interface SkippedFile {
  commit: string;
  path: string;
  reason: "too-large";
  size: number;
}

export interface PushScanResult {
  findings: LocatedFinding[];
  files: number;
  bytes: number;
  skipped: SkippedFile[];
  mode: "compare" | "commits";
  commits: number;
  /** Pushed commits GitHub no longer has (force-pushed away): nothing of theirs could be read. */
  missingCommits: string[];
}

export interface PushScanOptions {
  maxBlobBytes: number;
  detect?: Partial<DetectOptions>;
}

export function permalink(htmlUrl: string, commit: string, path: string, line: number): string {
  const encodedPath = path.split("/").map(encodeURIComponent).join("/");
  return `${htmlUrl.replace(/\/+$/, "")}/blob/${commit}/${encodedPath}#L${line}`;
}

export async function scanPush(
  gh: GitHubClient,
  ref: PushReference,
  options: PushScanOptions,
): Promise<PushScanResult> {
  const result: PushScanResult = {
    findings: [],
    files: 0,
    bytes: 0,
    skipped: [],
    mode: "compare",
    commits: 0,
    missingCommits: [],
  };
  const plan: { mode?: "compare" | "commits"; commits?: number; missing?: string[] } = {};
  for await (const file of pushChangedFiles(gh, ref, plan)) {
    if (file.status === "removed") continue;
    let found: Finding[];
    if (file.patch !== undefined) {
      const bytes = Buffer.from(file.patch, "utf8");
      result.bytes += bytes.length;
      found = scanBuffer(bytes, { kind: "diff", path: file.path, commit: file.commit }, options.detect);
    } else if (file.blobSha !== undefined) {
      const blob = await fetchBlob(gh, ref, file.blobSha, options.maxBlobBytes);
      if (blob.content === undefined) {
        result.skipped.push({ commit: file.commit, path: file.path, reason: "too-large", size: blob.size });
        continue;
      }
      result.bytes += blob.content.length;
      // No patch means no line-level diff: the whole content counts (for a new file, it is all added).
      found = scanBuffer(
        blob.content,
        { kind: "text", path: file.path, commit: file.commit },
        options.detect,
      );
    } else {
      continue;
    }
    result.files++;
    for (const finding of found) {
      const line = finding.line ?? 1;
      result.findings.push({
        finding,
        commit: file.commit,
        path: file.path,
        line,
        url: permalink(ref.repository.htmlUrl, file.commit, file.path, line),
      });
    }
  }
  result.mode = plan.mode ?? "compare";
  result.commits = plan.commits ?? 0;
  result.missingCommits = plan.missing ?? [];
  return result;
}
