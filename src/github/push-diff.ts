/**
 * The content a push added, fetched through GitHub's REST API: the compare of `before...after` when GitHub can
 * give it whole, else each pushed commit's own file list (new branch, force push, more than 300 files). Files
 * GitHub sends without a `patch` (binary, or too large to diff) come as a blob reference to fetch.
 */
import type { ProbotOctokit } from "probot";
import { z } from "zod";
import type { PushReference } from "./push-reference.js";

export type GitHubClient = Pick<InstanceType<typeof ProbotOctokit>, "request">;

export interface ChangedFile {
  /** The commit the change is attributed to: the pushed head for a compare, else the commit itself. */
  commit: string;
  path: string;
  status: string;
  /** GitHub's hunk-only patch, when it sent one. */
  patch: string | undefined;
  /** The file's blob, to fetch when there is no patch. */
  blobSha: string | undefined;
}

/** GitHub's compare lists at most 300 files; at that count the list may be cut. */
export const COMPARE_FILE_LIMIT = 300;
/** A commit's files come 300 a page, 3000 at most. */
const COMMIT_FILES_PER_PAGE = 300;
const COMMIT_FILE_LIMIT = 3000;
const COMPARE_COMMITS_PER_PAGE = 100;

/**
 * What patrol reads of GitHub's answers, checked: a truncated or reshaped answer (Octokit hands a body that is
 * not JSON over as a string) must fail the scan with a reason, never pass as "no files" and lose the push.
 */
const fileEntry = z
  .object({
    filename: z.string().min(1),
    status: z.string(),
    patch: z.string().nullish(),
    sha: z.string().nullish(),
  })
  .loose();
const compareAnswer = z
  .object({
    files: z.array(fileEntry).optional(),
    commits: z.array(z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) }).loose()),
    total_commits: z.number().int().nonnegative(),
  })
  .loose();
const commitAnswer = z.object({ files: z.array(fileEntry).optional() }).loose();
const blobAnswer = z
  .object({ size: z.number().int().nonnegative(), content: z.string(), encoding: z.string() })
  .loose();

type FileEntry = z.infer<typeof fileEntry>;

/** GitHub answered 2xx with something that is not what its API documents. */
export class GitHubResponseError extends Error {
  override name = "GitHubResponseError";
}

function checked<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  if (typeof data !== "object" || data === null)
    throw new GitHubResponseError(`GitHub's answer to ${what} is not a JSON object (${typeof data})`);
  const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "answer"}: ${i.message}`);
  throw new GitHubResponseError(
    `GitHub's answer to ${what} is not in the documented shape: ${problems.slice(0, 3).join("; ")}`,
  );
}

function toChangedFile(commit: string, file: FileEntry): ChangedFile {
  return {
    commit,
    path: file.filename,
    status: file.status,
    patch: file.patch ?? undefined,
    blobSha: file.sha ?? undefined,
  };
}

function status(error: unknown): number | undefined {
  return (error as { status?: number } | null)?.status;
}

/** Yields every changed file of the push; how it got them is in `plan` once iteration ends. */
export async function* pushChangedFiles(
  gh: GitHubClient,
  ref: PushReference,
  plan: { mode?: "compare" | "commits"; commits?: number; missing?: string[] } = {},
): AsyncGenerator<ChangedFile> {
  const { owner, name: repo } = ref.repository;
  let commits: string[] = ref.commits;
  if (!ref.created && !ref.forced) {
    try {
      const first = await gh.request("GET /repos/{owner}/{repo}/compare/{basehead}", {
        owner,
        repo,
        basehead: `${ref.before}...${ref.after}`,
        per_page: COMPARE_COMMITS_PER_PAGE,
        page: 1,
      });
      const what = `compare ${ref.repository.fullName} ${ref.before}...${ref.after}`;
      const firstPage = checked(compareAnswer, first.data, what);
      const files = firstPage.files ?? [];
      if (files.length < COMPARE_FILE_LIMIT) {
        plan.mode = "compare";
        plan.commits = firstPage.total_commits;
        for (const file of files) yield toChangedFile(ref.after, file);
        return;
      }
      commits = firstPage.commits.map((c) => c.sha);
      for (let page = 2; commits.length < firstPage.total_commits; page++) {
        const next = await gh.request("GET /repos/{owner}/{repo}/compare/{basehead}", {
          owner,
          repo,
          basehead: `${ref.before}...${ref.after}`,
          per_page: COMPARE_COMMITS_PER_PAGE,
          page,
        });
        const nextPage = checked(compareAnswer, next.data, `${what} (page ${page})`);
        if (nextPage.commits.length === 0) break;
        commits.push(...nextPage.commits.map((c) => c.sha));
      }
    } catch (error) {
      // 404: `before` is gone or unrelated (a force push GitHub did not flag): the pushed commits still are.
      if (status(error) !== 404) throw error;
    }
  }
  plan.mode = "commits";
  plan.commits = commits.length;
  for (const sha of new Set(commits)) yield* commitFiles(gh, ref, sha, plan);
}

function getCommit(gh: GitHubClient, owner: string, repo: string, sha: string, page: number) {
  return gh.request("GET /repos/{owner}/{repo}/commits/{ref}", {
    owner,
    repo,
    ref: sha,
    per_page: COMMIT_FILES_PER_PAGE,
    page,
  });
}

async function* commitFiles(
  gh: GitHubClient,
  ref: PushReference,
  sha: string,
  plan: { missing?: string[] },
): AsyncGenerator<ChangedFile> {
  const { owner, name: repo } = ref.repository;
  for (let page = 1; (page - 1) * COMMIT_FILES_PER_PAGE < COMMIT_FILE_LIMIT; page++) {
    let data: z.infer<typeof commitAnswer>;
    try {
      const answer = await getCommit(gh, owner, repo, sha, page);
      data = checked(commitAnswer, answer.data, `commit ${ref.repository.fullName} ${sha} (page ${page})`);
    } catch (error) {
      // 422 "No commit found" / 404: rewritten away since the push; what it added is not public any more.
      if (status(error) === 422 || status(error) === 404) {
        plan.missing = [...(plan.missing ?? []), sha];
        return;
      }
      throw error;
    }
    const files = data.files ?? [];
    for (const file of files) yield toChangedFile(sha, file);
    if (files.length < COMMIT_FILES_PER_PAGE) return;
  }
}

export interface Blob {
  size: number;
  /** Absent when the blob is over the size cap: it was not decoded. */
  content: Buffer | undefined;
}

/** Fetches a blob; content over `maxBytes` is not decoded (the size is still reported). */
export async function fetchBlob(
  gh: GitHubClient,
  ref: PushReference,
  sha: string,
  maxBytes: number,
): Promise<Blob> {
  const answer = await gh.request("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", {
    owner: ref.repository.owner,
    repo: ref.repository.name,
    file_sha: sha,
  });
  const data = checked(blobAnswer, answer.data, `blob ${ref.repository.fullName} ${sha}`);
  const size = data.size;
  if (size > maxBytes) return { size, content: undefined };
  const content =
    data.encoding === "base64" ? Buffer.from(data.content, "base64") : Buffer.from(data.content, "utf8");
  return { size, content };
}
