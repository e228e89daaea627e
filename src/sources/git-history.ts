/**
 * A git repository's history as one `git log -p` stream: every commit, its diff, added lines marked `+`.
 * Binary files are included as text (`--text`) unless asked not to, since a token in a binary is a leak too.
 */
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";

export interface GitHistoryOptions {
  /** `A..B`, a ref, or a commit; default: the current branch (`HEAD`). */
  range?: string;
  /** Every ref (`--all`). */
  all?: boolean;
  /** Scan binary files' content too (default true). */
  binary?: boolean;
}

export class GitError extends Error {
  override name = "GitError";
}

/** The newline after the hash is looked ahead at, not taken: the next commit line may start right there. */
const COMMIT_LINE = /\ncommit ([0-9a-f]{40}|[0-9a-f]{64})(?=\n)/g;
/** Longer than a `commit <sha-256>` line with the newlines around it. */
const CARRY = 80;

/**
 * What a history stream has delivered so far: bytes, and the `commit` lines seen. Every commit before the
 * last one seen was delivered whole; the last one may be cut short when git fails.
 */
export class HistoryTally {
  bytes = 0;
  /** `commit` lines delivered. */
  commits = 0;
  lastCommit: string | null = null;
  /** The commit before `lastCommit`: the last one known to be whole. */
  previousCommit: string | null = null;
  /** The end of the previous chunk, so a commit line cut between two chunks is still read once. */
  private carry = "\n";

  count(chunk: Buffer): void {
    // A commit line in the carry alone was counted with the chunk before.
    const text = this.carry + chunk.toString("latin1");
    const seenBefore = this.carry.length;
    for (const m of text.matchAll(COMMIT_LINE)) {
      if (m.index + m[0].length + 1 <= seenBefore) continue;
      this.commits++;
      this.previousCommit = this.lastCommit;
      this.lastCommit = m[1];
    }
    this.bytes += chunk.length;
    this.carry = text.slice(-CARRY);
  }

  /** Says how far a scan of this history got: for an error when git fails part-way. */
  describeStop(): string {
    const whole = Math.max(0, this.commits - 1);
    if (this.commits === 0) return "no commit was scanned";
    return `${whole} commit${whole === 1 ? "" : "s"} scanned in full (${this.bytes} bytes of git log -p); ${
      this.previousCommit
        ? `findings so far are complete up to commit ${this.previousCommit}`
        : "no commit is complete"
    }, in git log order; the scan stopped inside commit ${this.lastCommit}`;
  }
}

/** Arguments for `git log` that print each commit as `commit <sha>` followed by its patch. */
export function gitLogArgs(options: GitHistoryOptions): string[] {
  const args = [
    "-c",
    "core.quotePath=true",
    "log",
    "-p",
    "-M",
    "--no-color",
    "--no-ext-diff",
    "--format=commit %H",
  ];
  if (options.binary !== false) args.push("--text");
  if (options.all) args.push("--all");
  else if (options.range) {
    if (options.range.startsWith("-")) throw new GitError(`invalid range: ${options.range}`);
    args.push(options.range);
  }
  args.push("--");
  return args;
}

/**
 * Streams the history of the repository at `dir`. Throws a GitError with git's own message when git fails
 * (not a repository, unknown range, missing objects), after the output it did produce; once some commits
 * were delivered, the message says how many and which one is the last complete one. `tally` (when given)
 * follows what was delivered.
 */
export async function* gitHistory(
  dir: string,
  options: GitHistoryOptions = {},
  tally = new HistoryTally(),
): AsyncGenerator<Buffer> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new GitError(`not a directory: ${dir}`);
  const args = gitLogArgs(options);
  const child = spawn("git", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", (err) => reject(new GitError(`cannot run git: ${err.message}`)));
    child.on("close", (code) => resolve(code ?? 1));
  });
  try {
    for await (const chunk of child.stdout) {
      tally.count(chunk as Buffer);
      yield chunk as Buffer;
    }
    const code = await exited;
    if (code !== 0) {
      const said = stderr.trim() || `git log exited with code ${code}`;
      if (tally.bytes === 0) throw new GitError(said);
      const hint = /unable to read|missing|bad object|promisor/i.test(said)
        ? " (objects are missing: a partial or damaged clone?)"
        : "";
      throw new GitError(`${said}${hint}\n${tally.describeStop()}`);
    }
  } finally {
    // The consumer may stop early: don't leave git running.
    if (child.exitCode === null) child.kill();
  }
}
