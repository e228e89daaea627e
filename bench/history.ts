/**
 * The real-history part of `npm run bench:detect`: `git log -p --all` of public repositories, many commits,
 * files and small hunks, as users scan it. Prints, per configuration, patrol's MB/s beside ripgrep's on the
 * same file in the same run, and `patrol scan REPO --all` beside `git log -p --all` alone.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { type DetectOptions, StreamScanner } from "../src/detect/index.js";
import { gitLogArgs, readAhead } from "../src/sources/index.js";

const MB = 1e6;
const CASK_REGEX = "[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}";
const LEGACY_REGEX = "(?:[^2-7a-z]|^)[2-7a-z]{52}(?:[^2-7a-z]|$)";
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function ripgrepMissing(): boolean {
  return spawnSync("rg", ["--version"]).status !== 0;
}

/** Repositories (bare or with a work tree) at `dir` or one or two levels below it. */
export function findRepositories(dir: string, depth = 2): string[] {
  const isRepo = (p: string) =>
    spawnSync("git", ["--git-dir", p, "rev-parse", "--git-dir"]).status === 0 ||
    existsSync(path.join(p, ".git"));
  if (isRepo(dir)) return [dir];
  if (depth === 0) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() || e.isSymbolicLink())
    .map((e) => path.join(dir, e.name))
    .sort()
    .flatMap((p) => findRepositories(p, depth - 1));
}

/** `git` arguments reaching a repository whether it is bare or has a work tree. */
function gitDirArgs(repo: string): string[] {
  const dotGit = path.join(repo, ".git");
  return ["--git-dir", existsSync(dotGit) ? dotGit : repo];
}

interface Logged {
  repo: string;
  ok: boolean;
  stderr: string;
}

/** Writes `git log -p --all` of every repository, one after another, into `file`. */
export async function writeHistoryCorpus(repos: string[], file: string): Promise<Logged[]> {
  const out = openSync(file, "w");
  const logged: Logged[] = [];
  try {
    for (const repo of repos) {
      const result = await new Promise<Logged>((resolve, reject) => {
        const child = spawn("git", [...gitDirArgs(repo), ...gitLogArgs({ all: true })], {
          stdio: ["ignore", out, "pipe"],
        });
        let stderr = "";
        child.stderr?.on("data", (d) => {
          stderr += d;
        });
        child.on("error", reject);
        child.on("close", (code) => resolve({ repo, ok: code === 0, stderr: stderr.trim() }));
      });
      logged.push(result);
    }
  } finally {
    closeSync(out);
  }
  return logged;
}

/** Counts of the things that make real history hard: commits, files and hunks. */
function shape(file: string): { commits: number; files: number; hunks: number } {
  const count = (pattern: string) =>
    Number(
      spawnSync("sh", ["-c", `grep -a -c '${pattern}' '${file}' || true`])
        .stdout.toString()
        .trim(),
    );
  return { commits: count("^commit "), files: count("^diff --git "), hunks: count("^@@ -") };
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** patrol through the library, as a user's program would run it: the file read ahead, streamed. */
async function scanFile(
  file: string,
  options: Partial<DetectOptions>,
): Promise<{ s: number; found: number }> {
  const start = process.hrtime.bigint();
  const scanner = new StreamScanner({ kind: "diff" }, options);
  let found = 0;
  for await (const chunk of readAhead(file)) found += scanner.push(chunk).length;
  found += scanner.end().length;
  return { s: seconds(start), found };
}

function timeCommand(cmd: string, args: string[]): Promise<{ s: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "ignore"] });
    child.stdout.resume();
    child.on("error", reject);
    child.on("close", (code) => resolve({ s: seconds(start), code }));
  });
}

async function best<T extends { s: number }>(runs: number, once: () => Promise<T>): Promise<T> {
  let winner: T | null = null;
  for (let r = 0; r < runs; r++) {
    const m = await once();
    if (!winner || m.s < winner.s) winner = m;
  }
  return winner!;
}

export interface HistoryBenchOptions {
  /** A prepared `git log -p` file, or a directory of repositories. */
  source: string;
  /** Where the generated corpus goes (git-ignored). */
  corpusDir: string;
  runs: number;
  cli: string;
}

/** Runs the real-history benchmark and returns rows for the README table. */
export async function benchHistory(options: HistoryBenchOptions): Promise<string[]> {
  const source = path.resolve(options.source);
  let file = source;
  let repos: string[] = [];
  if (statSync(source).isDirectory()) {
    repos = findRepositories(source);
    if (repos.length === 0) throw new Error(`no git repositories in ${source}`);
    file = path.join(options.corpusDir, "history.diff");
    const t0 = process.hrtime.bigint();
    const logged = await writeHistoryCorpus(repos, file);
    console.log(
      `\nreal history: git log -p --all of ${repos.length} repositories into ${file} (${fmt(seconds(t0), 1)} s)`,
    );
    for (const l of logged)
      console.log(`  ${l.repo}${l.ok ? "" : ` — git log stopped part-way (${l.stderr.split("\n")[0]})`}`);
    repos = logged.filter((l) => l.ok).map((l) => l.repo);
  } else console.log(`\nreal history: prepared git log -p file ${file}`);
  const size = statSync(file).size;
  const { commits, files, hunks } = shape(file);
  console.log(
    `  ${fmt(size / MB)} MB, ${fmt(commits)} commits, ${fmt(files)} file diffs, ${fmt(hunks)} hunks (${fmt(size / hunks)} bytes per hunk)`,
  );
  if (size < 500 * MB) console.log("  (smaller than the 500 MB the figures below are meant for)");

  const rgMissing = ripgrepMissing();
  if (rgMissing)
    console.log("  ripgrep (rg) is NOT installed: no comparison figures (apt-get install ripgrep)");
  const rg = (regex: string) =>
    best(options.runs, () => timeCommand("rg", ["-c", "-a", regex, file])).then((m) => m.s);

  console.log(`  throughput, same file, same run, best of ${options.runs} (patrol reads the file itself)`);
  const rows: string[] = [];
  const configs: { name: string; run: () => Promise<{ s: number }>; regex: string; rgName: string }[] = [
    {
      name: "84-char format only (library)",
      run: () => scanFile(file, { legacy: false, encoded: false }),
      regex: CASK_REGEX,
      rgName: "CASK regex",
    },
    {
      name: "legacy format only (library)",
      run: () => scanFile(file, { azdo: false, encoded: false }),
      regex: LEGACY_REGEX,
      rgName: "legacy regex",
    },
    {
      name: "everything on (library)",
      run: () => scanFile(file, {}),
      regex: LEGACY_REGEX,
      rgName: "legacy regex",
    },
    {
      name: "everything on (patrol scan --diff FILE)",
      run: () => timeCommand(process.execPath, [options.cli, "scan", "--diff", file, "--format", "jsonl"]),
      regex: LEGACY_REGEX,
      rgName: "legacy regex",
    },
  ];
  for (const c of configs) {
    const ours = size / (await best(options.runs, c.run)).s / MB;
    if (rgMissing) {
      console.log(`  ${c.name.padEnd(40)} ${fmt(ours).padStart(6)} MB/s`);
      continue;
    }
    const theirs = size / (await rg(c.regex)) / MB;
    console.log(
      `  ${c.name.padEnd(40)} ${fmt(ours).padStart(6)} MB/s   ripgrep ${c.rgName} ${fmt(theirs).padStart(6)} MB/s   patrol / ripgrep = ${fmt(ours / theirs, 2)}×`,
    );
    rows.push(
      `| real history: ${c.name} | ${fmt(ours)} MB/s | ${c.rgName} ${fmt(theirs)} MB/s | ${fmt(ours / theirs, 2)}× |`,
    );
  }

  if (repos.length > 0) {
    console.log(
      "  whole-history scans: patrol scan REPO --all against git log -p --all alone (best of runs)",
    );
    for (const repo of repos) {
      const git = await best(options.runs, () =>
        timeCommand("git", [...gitDirArgs(repo), ...gitLogArgs({ all: true })]),
      );
      const scan = await best(options.runs, () =>
        timeCommand(process.execPath, [options.cli, "scan", repo, "--all", "--format", "jsonl"]),
      );
      const logBytes = Number(
        execFileSync("sh", [
          "-c",
          `git ${[...gitDirArgs(repo), ...gitLogArgs({ all: true })].map((a) => `'${a}'`).join(" ")} | wc -c`,
        ]).toString(),
      );
      console.log(
        `  ${path.basename(path.dirname(repo)) === "." ? repo : repo}: ${fmt(logBytes / MB)} MB of history; git log -p --all ${fmt(git.s, 2)} s, patrol scan --all ${fmt(scan.s, 2)} s (${fmt((scan.s / git.s) * 100)}% of git alone; git bounds the scan)`,
      );
      rows.push(
        `| \`patrol scan --all\` of ${path.basename(repo) === "repo" ? path.basename(path.dirname(repo)) : path.basename(repo)} (${fmt(logBytes / MB)} MB) | ${fmt(scan.s, 2)} s | git log -p --all alone ${fmt(git.s, 2)} s | ${fmt(scan.s / git.s, 2)}× the time |`,
      );
    }
  }
  return rows;
}
