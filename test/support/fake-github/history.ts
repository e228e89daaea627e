/**
 * What the fake GitHub reads back out of its git repositories: commit metadata (`git log`), the files a commit
 * touched for push payloads (`--name-status`, no renames, as push payloads list them), and the changed files of a
 * diff the way the REST API shows them (`git diff --raw` + the real patch, cut to GitHub's hunk-only form:
 * the `patch` field starts at the first `@@` line and has no `diff --git`/`index`/`---`/`+++` header).
 */
import { EMPTY_TREE_SHA, type GitRepository } from "./git.js";

export interface GitPerson {
  name: string;
  email: string;
  /** ISO 8601 with the commit's own offset, as git (and push payloads) write it. */
  date: string;
}

export interface CommitInfo {
  sha: string;
  tree: string;
  parents: string[];
  author: GitPerson;
  committer: GitPerson;
  /** The full message without its trailing newline. */
  message: string;
}

export interface CommitWithPaths extends CommitInfo {
  added: string[];
  removed: string[];
  modified: string[];
}

export type DiffStatus = "added" | "removed" | "modified" | "renamed" | "copied" | "changed" | "unchanged";

export interface ChangedFile {
  filename: string;
  previousFilename?: string;
  status: DiffStatus;
  additions: number;
  deletions: number;
  /** The blob's sha: the new content, or the old one for a removed file. */
  sha: string;
  binary: boolean;
  /** Hunk-only patch text; undefined for binary files, empty diffs and diffs over the size limit. */
  patch?: string;
  /** Size of the hunk-only patch in bytes (also when it was left out for its size). */
  patchBytes: number;
}

const FIELD = "\x02";
const RECORD = "\x01";
const FORMAT = `${RECORD}%H${FIELD}%T${FIELD}%P${FIELD}%an${FIELD}%ae${FIELD}%aI${FIELD}%cn${FIELD}%ce${FIELD}%cI${FIELD}%B`;

function parseHeader(header: string): CommitInfo {
  const [sha, tree, parents, an, ae, ad, cn, ce, cd, ...message] = header.split(FIELD);
  return {
    sha,
    tree,
    parents: parents ? parents.split(" ") : [],
    author: { name: an, email: ae, date: ad },
    committer: { name: cn, email: ce, date: cd },
    message: message.join(FIELD).replace(/\n+$/, ""),
  };
}

/** Commits named by `revArgs` (e.g. `["--reverse", "a..b"]`), metadata only. */
export async function readCommits(git: GitRepository, revArgs: readonly string[]): Promise<CommitInfo[]> {
  const out = (await git.git(["log", `--format=${FORMAT}`, ...revArgs, "--"])).toString("utf8");
  return out
    .split(RECORD)
    .slice(1)
    .map((record) => parseHeader(record.replace(/\n$/, "")));
}

/** One commit (by sha, prefix or ref), or null when there is none; read without starting a process. */
export async function readCommit(git: GitRepository, rev: string): Promise<CommitInfo | null> {
  if (!/^[\w./@{}^~-]+$/.test(rev) || rev.startsWith("-")) return null;
  const object = await git.readObject(`${rev}^{commit}`);
  return object ? parseCommitObject(object.oid, object.content.toString("utf8")) : null;
}

/** A raw commit object: headers (`tree`, `parent`, `author`, `committer`, others), a blank line, the message. */
export function parseCommitObject(sha: string, raw: string): CommitInfo {
  const split = raw.indexOf("\n\n");
  const headers = (split < 0 ? raw : raw.slice(0, split)).split("\n");
  const message = split < 0 ? "" : raw.slice(split + 2);
  let tree = "";
  const parents: string[] = [];
  let author: GitPerson = { name: "", email: "", date: "" };
  let committer = author;
  for (const line of headers) {
    if (line.startsWith("tree ")) tree = line.slice(5);
    else if (line.startsWith("parent ")) parents.push(line.slice(7));
    else if (line.startsWith("author ")) author = parsePerson(line.slice(7));
    else if (line.startsWith("committer ")) committer = parsePerson(line.slice(10));
  }
  return { sha, tree, parents, author, committer, message: message.replace(/\n+$/, "") };
}

/** `Name <email> 1700000000 +0130` → its parts, the date in git's `%aI` form (ISO 8601, the commit's offset). */
function parsePerson(value: string): GitPerson {
  const match = /^(.*) <(.*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(value);
  if (!match) return { name: value, email: "", date: "" };
  const [, name, email, epoch, sign, hours, minutes] = match;
  const offsetMinutes = (sign === "-" ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
  const local = new Date((Number(epoch) + offsetMinutes * 60) * 1000).toISOString().slice(0, 19);
  return { name, email, date: `${local}${sign}${hours}:${minutes}` };
}

/** Commits with the paths each added, removed and modified against its first parent. */
export async function readCommitsWithPaths(
  git: GitRepository,
  revArgs: readonly string[],
): Promise<CommitWithPaths[]> {
  const out = (
    await git.git([
      "log",
      "-z",
      "--no-renames",
      "--name-status",
      "--diff-merges=first-parent",
      `--format=${FORMAT}`,
      ...revArgs,
      "--",
    ])
  ).toString("utf8");
  return out
    .split(RECORD)
    .slice(1)
    .map((record) => {
      const end = record.indexOf("\0");
      const info = parseHeader(end < 0 ? record : record.slice(0, end));
      const commit: CommitWithPaths = { ...info, added: [], removed: [], modified: [] };
      const rest =
        end < 0
          ? []
          : record
              .slice(end + 1)
              .replace(/^\n/, "")
              .split("\0");
      for (let i = 0; i + 1 < rest.length; i += 2) {
        const [status, file] = [rest[i], rest[i + 1]];
        if (status === "A") commit.added.push(file);
        else if (status === "D") commit.removed.push(file);
        else if (status) commit.modified.push(file);
      }
      return commit;
    });
}

/**
 * The commits of `base..head`, oldest first, when `head` reaches `base` by a straight line of single-parent
 * commits within `maxSteps` (the usual push); null otherwise (merges, divergence), for git to work out.
 */
export async function linearRange(
  git: GitRepository,
  base: string,
  head: string,
  maxSteps: number,
): Promise<CommitInfo[] | null> {
  const commits: CommitInfo[] = [];
  let sha = head;
  while (sha !== base) {
    if (commits.length >= maxSteps) return null;
    const commit = await readCommit(git, sha);
    if (commit?.parents.length !== 1) return null;
    commits.push(commit);
    sha = commit.parents[0];
  }
  return commits.reverse();
}

const STATUS: Record<string, DiffStatus> = {
  A: "added",
  D: "removed",
  M: "modified",
  R: "renamed",
  C: "copied",
  T: "changed",
};

/**
 * The files changed from `base` to `head` (`null` base: a root commit, diffed against the empty tree), with
 * renames detected as GitHub does. `patchLimitBytes`: patches larger than this are left out, as GitHub leaves
 * out the patch of a large diff.
 */
export async function diffFiles(
  git: GitRepository,
  base: string | null,
  head: string,
  patchLimitBytes: number,
): Promise<ChangedFile[]> {
  const from = base ?? EMPTY_TREE_SHA;
  // a diff between two object ids never changes: compute it once, apply the (changeable) limit each time
  const files = await git.remember(`diff ${from} ${head}`, () => fullDiff(git, from, head));
  return files.map((file) =>
    file.patch !== undefined && file.patchBytes > patchLimitBytes ? { ...file, patch: undefined } : file,
  );
}

async function fullDiff(git: GitRepository, from: string, head: string): Promise<ChangedFile[]> {
  // one process: the NUL-separated raw entries, an empty field, then the patch text
  const out = await git.git([
    "diff",
    "--raw",
    "-p",
    "-z",
    "-M",
    "--no-abbrev",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    from,
    head,
  ]);
  const split = out.indexOf("\0\0");
  const raw = split < 0 ? out : out.subarray(0, split + 1);
  const patchText = split < 0 ? Buffer.alloc(0) : out.subarray(split + 2);
  const entries = parseRaw(raw.toString("utf8"));
  // both parts follow git's diff queue order, so the n-th patch belongs to the n-th entry
  const patches = patchText
    .toString("utf8")
    .split(/^diff --git /m)
    .slice(1);
  if (patches.length !== entries.length) {
    throw new Error(`git diff gave ${entries.length} entries but ${patches.length} patches`);
  }
  return entries.map((entry, index) => {
    const chunk = patches[index];
    const hunkStart = chunk.startsWith("@@") ? 0 : chunk.indexOf("\n@@") + 1;
    const binary = hunkStart === 0 && /^(Binary files |GIT binary patch)/m.test(chunk);
    let additions = 0;
    let deletions = 0;
    let patch: string | undefined;
    if (hunkStart > 0 || chunk.startsWith("@@")) {
      patch = chunk.slice(hunkStart).replace(/\n$/, "");
      for (const line of patch.split("\n")) {
        if (line.startsWith("+")) additions++;
        else if (line.startsWith("-")) deletions++;
      }
    }
    const patchBytes = patch === undefined ? 0 : Buffer.byteLength(patch);
    return { ...entry, additions, deletions, binary, patch, patchBytes };
  });
}

function parseRaw(
  raw: string,
): Omit<ChangedFile, "additions" | "deletions" | "binary" | "patch" | "patchBytes">[] {
  const tokens = raw.split("\0");
  const entries: Omit<ChangedFile, "additions" | "deletions" | "binary" | "patch" | "patchBytes">[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const meta = tokens[i];
    if (!meta.startsWith(":")) continue;
    const [, , oldSha, newSha, statusField] = meta.slice(1).split(" ");
    const letter = statusField[0];
    const status = STATUS[letter] ?? "changed";
    if (letter === "R" || letter === "C") {
      entries.push({ filename: tokens[i + 2], previousFilename: tokens[i + 1], status, sha: newSha });
      i += 2;
    } else {
      entries.push({ filename: tokens[i + 1], status, sha: letter === "D" ? oldSha : newSha });
      i += 1;
    }
  }
  return entries;
}
