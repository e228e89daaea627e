/**
 * The fake GitHub's repositories are real bare git repositories; this module is the git they need. Commits are
 * written with `git fast-import` (one process for any number of files or commits; text, binary, large files and
 * deletions alike), so tests shape history without a work tree.
 *
 *   const git = await GitRepository.init(dir, "main");
 *   const sha = await git.commit({ files: { "a.txt": "hello\n", "logo.png": pngBuffer, "old.txt": null } });
 *   const shas = await git.commitMany(specs);            // many commits, one process
 *   await git.resetBranch("main", olderSha);             // then commit again: a force push
 *   await git.prune();                                   // drop unreachable objects, as GitHub eventually does
 *
 * Every operation on one repository runs in order (a small queue), so concurrent test steps cannot race refs.
 */
import { spawn } from "node:child_process";
import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { type GitObject, ObjectReader } from "./objects.js";

export const ZERO_SHA = "0000000000000000000000000000000000000000";
/** Git's well-known empty tree: the "parent" a root commit is diffed against. */
export const EMPTY_TREE_SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/** New content for a path (text or bytes), or `null` to delete it. */
export type FileContent = string | Buffer | null;

export interface GitIdentity {
  name: string;
  email: string;
}

export interface CommitSpec {
  /** Branch to commit on; default: the repository's default branch. */
  branch?: string;
  message?: string;
  files: Record<string, FileContent>;
  /**
   * The parent: a sha or branch name. Default: the branch's tip; for a branch that does not exist yet, the
   * default branch's tip (or no parent in an empty repository). Giving an older commit of the same branch
   * rewrites it (a force push).
   */
  from?: string;
  /** A root commit with no parent (unrelated history). */
  orphan?: boolean;
  author?: GitIdentity;
  committer?: GitIdentity;
  date?: Date;
}

export const DEFAULT_IDENTITY: GitIdentity = { name: "Mona Tester", email: "mona@example.com" };

export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args.join(" ")} failed (${code}): ${stderr.trim()}`);
    this.name = "GitError";
  }
}

export interface RunOptions {
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Exit codes that are not errors (e.g. 1 for `merge-base` with no common ancestor). */
  allowCodes?: number[];
}

/** Runs git and returns its stdout; a non-zero exit (unless allowed) rejects with stderr. */
export function runGit(
  cwd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<{ stdout: Buffer; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", reject);
    child.stdin.on("error", () => {}); // git may exit before reading all input; its exit code tells
    child.on("close", (code) => {
      const stdout = Buffer.concat(out);
      if (code === 0 || (code !== null && options.allowCodes?.includes(code))) resolve({ stdout, code });
      else reject(new GitError(args, code, Buffer.concat(err).toString("utf8")));
    });
    child.stdin.end(options.input ?? "");
  });
}

export class GitRepository {
  private queue: Promise<unknown> = Promise.resolve();
  private marksFile: string;
  private objects: ObjectReader;
  /** Results that depend only on object ids (diffs, ranges), which never change; emptied by `prune`. */
  private readonly memo = new Map<string, Promise<unknown>>();

  private constructor(
    readonly gitDir: string,
    public defaultBranch: string,
  ) {
    this.marksFile = path.join(gitDir, "fake-github-marks");
    this.objects = new ObjectReader(gitDir);
  }

  /** A new bare repository at `gitDir`, served for clones (partial clone filters allowed). */
  static async init(gitDir: string, defaultBranch: string): Promise<GitRepository> {
    await mkdir(gitDir, { recursive: true });
    await runGit(gitDir, ["init", "--quiet", "--bare", `--initial-branch=${defaultBranch}`, "."]);
    // written directly: one `git config` process per key would cost more than the init itself
    await appendFile(
      path.join(gitDir, "config"),
      "[uploadpack]\n\tallowFilter = true\n\tallowAnySHA1InWant = true\n[gc]\n\tauto = 0\n",
    );
    return new GitRepository(gitDir, defaultBranch);
  }

  /** Runs git in this repository (stdout as a Buffer). */
  async git(args: readonly string[], options?: RunOptions): Promise<Buffer> {
    return (await runGit(this.gitDir, args, options)).stdout;
  }

  /** The commit a sha, sha prefix, branch or tag names, or null when there is none. */
  async resolve(rev: string): Promise<string | null> {
    if (!/^[\w./@{}^~-]+$/.test(rev) || rev.startsWith("-")) return null;
    return (await this.objects.read(`${rev}^{commit}`))?.oid ?? null;
  }

  /** The tip of a branch, or null. */
  tip(branch: string): Promise<string | null> {
    return this.resolve(`refs/heads/${branch}`);
  }

  /** Any object by name (null when missing), read without starting a process. */
  readObject(name: string): Promise<GitObject | null> {
    return this.objects.read(name);
  }

  /** Computes `key`'s value once; only for results fixed by object ids. */
  remember<T>(key: string, compute: () => Promise<T>): Promise<T> {
    let value = this.memo.get(key) as Promise<T> | undefined;
    if (!value) {
      value = compute();
      this.memo.set(key, value);
      value.catch(() => this.memo.delete(key));
    }
    return value;
  }

  /** Stops the object reader (the repository stays on disk). */
  close(): void {
    this.objects.close();
  }

  async branches(): Promise<string[]> {
    const out = await this.git(["for-each-ref", "--format=%(refname:short)", "refs/heads"]);
    return out.toString().split("\n").filter(Boolean);
  }

  commit(spec: CommitSpec): Promise<string> {
    return this.commitMany([spec]).then((shas) => shas[0]);
  }

  /** Writes the commits in order in one `git fast-import` run; returns their shas. */
  commitMany(specs: readonly CommitSpec[]): Promise<string[]> {
    return this.serialize(async () => {
      if (specs.length === 0) return [];
      const chunks: Buffer[] = [];
      const seen = new Set<string>();
      let clock = Math.floor(Date.now() / 1000);
      for (const [index, spec] of specs.entries()) {
        const branch = spec.branch ?? this.defaultBranch;
        const author = spec.author ?? DEFAULT_IDENTITY;
        const committer = spec.committer ?? author;
        // distinct, increasing times keep "chronological order" well defined within a batch
        const when = spec.date ? Math.floor(spec.date.getTime() / 1000) : clock++;
        const message = Buffer.from(spec.message ?? `commit ${index + 1}`);
        let parent: string | null | undefined; // undefined: continue the branch within this stream
        if (spec.orphan) parent = null;
        else if (spec.from !== undefined) parent = await this.requireCommit(spec.from);
        else if (!seen.has(branch)) parent = (await this.tip(branch)) ?? (await this.tip(this.defaultBranch));
        seen.add(branch);
        // `reset` first: without it, fast-import would continue a branch it already wrote in this stream
        if (parent === null) chunks.push(Buffer.from(`reset refs/heads/${branch}\n\n`));
        chunks.push(
          Buffer.from(
            `commit refs/heads/${branch}\nmark :${index + 1}\n` +
              `author ${author.name} <${author.email}> ${when} +0000\n` +
              `committer ${committer.name} <${committer.email}> ${when} +0000\n` +
              `data ${message.length}\n`,
          ),
          message,
          Buffer.from("\n"),
        );
        if (parent) chunks.push(Buffer.from(`from ${parent}\n`));
        for (const [file, content] of Object.entries(spec.files)) {
          const quoted = quotePath(file);
          if (content === null) {
            chunks.push(Buffer.from(`D ${quoted}\n`));
          } else {
            const bytes = typeof content === "string" ? Buffer.from(content) : content;
            chunks.push(
              Buffer.from(`M 100644 inline ${quoted}\ndata ${bytes.length}\n`),
              bytes,
              Buffer.from("\n"),
            );
          }
        }
        chunks.push(Buffer.from("\n"));
      }
      chunks.push(Buffer.from("done\n"));
      await rm(this.marksFile, { force: true });
      await this.git(["fast-import", "--quiet", "--force", "--done", `--export-marks=${this.marksFile}`], {
        input: Buffer.concat(chunks),
      });
      const marks = new Map<number, string>();
      for (const line of (await readFile(this.marksFile, "utf8")).split("\n")) {
        const match = /^:(\d+) ([0-9a-f]{40})$/.exec(line);
        if (match) marks.set(Number(match[1]), match[2]);
      }
      await rm(this.marksFile, { force: true });
      return specs.map((_, index) => {
        const sha = marks.get(index + 1);
        if (!sha) throw new Error(`fast-import wrote no commit for spec ${index + 1}`);
        return sha;
      });
    });
  }

  /** Creates (or moves) a branch to a commit; returns its sha. */
  createBranch(name: string, from: string): Promise<string> {
    return this.serialize(async () => {
      const sha = await this.requireCommit(from);
      await this.git(["update-ref", `refs/heads/${name}`, sha]);
      return sha;
    });
  }

  /** Points a branch at an older (or any) commit, as `git reset --hard` + `git push --force` would. */
  resetBranch(name: string, to: string): Promise<string> {
    return this.createBranch(name, to);
  }

  deleteBranch(name: string): Promise<void> {
    return this.serialize(async () => {
      await this.git(["update-ref", "-d", `refs/heads/${name}`]);
    });
  }

  createTag(name: string, target: string): Promise<string> {
    return this.serialize(async () => {
      const sha = await this.requireCommit(target);
      await this.git(["update-ref", `refs/tags/${name}`, sha]);
      return sha;
    });
  }

  /** Removes objects no ref reaches (a force-pushed-away commit then answers 404). */
  prune(): Promise<void> {
    return this.serialize(async () => {
      await this.git(["reflog", "expire", "--expire=now", "--all"]);
      await this.git(["gc", "--quiet", "--prune=now"]);
      // the reader still has the old packs open, and remembered results may name pruned objects
      this.objects.close();
      this.memo.clear();
    });
  }

  private async requireCommit(rev: string): Promise<string> {
    const sha = await this.resolve(rev);
    if (!sha) throw new Error(`no commit "${rev}" in ${this.gitDir}`);
    return sha;
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }
}

/** fast-import's C-style quoted path (always quoted, so spaces, quotes and non-ASCII are all fine). */
function quotePath(file: string): string {
  if (
    file === "" ||
    file.startsWith("/") ||
    file.split("/").some((part) => part === "" || part === "." || part === "..")
  )
    throw new Error(`invalid path for a commit: ${JSON.stringify(file)}`);
  return `"${file
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/\n/g, "\\n")
    .replace(/\t/g, "\\t")}"`;
}
