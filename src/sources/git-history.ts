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
 * (not a repository, unknown range), after the output it did produce.
 */
export async function* gitHistory(dir: string, options: GitHistoryOptions = {}): AsyncGenerator<Buffer> {
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
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (code !== 0) throw new GitError(stderr.trim() || `git log exited with code ${code}`);
  } finally {
    // The consumer may stop early: don't leave git running.
    if (child.exitCode === null) child.kill();
  }
}
