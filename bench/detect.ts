/**
 * Detector benchmark: `npm run bench:detect [-- --size-mb 512 --runs 3 --history DIR|FILE]`.
 *
 * Two corpora. Synthetic: real text files as one added-lines diff with planted tokens; prints throughput
 * for the 84-character format alone, legacy alone and everything on, against ripgrep on the same file in
 * the same run; per-block latency percentiles; memory while streaming ≥ 1 GB; and `patrol scan` on a git
 * repository against `git log -p` alone. Every planted token must be found. Real history (bench/history.ts):
 * `git log -p --all` of a directory of repositories (or a prepared `git log -p` file).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type DetectOptions, type Finding, StreamScanner, scanStream } from "../src/detect/index.js";
import { gitLogArgs, readAhead } from "../src/sources/index.js";
import { buildCorpus, type Planted } from "./corpus.js";
import { benchHistory, ripgrepMissing } from "./history.js";

const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "512" },
    runs: { type: "string", default: "3" },
    dir: { type: "string", default: "bench/corpus" },
    roots: { type: "string" },
    "skip-git": { type: "boolean", default: false },
    "skip-synthetic": { type: "boolean", default: false },
    /** A directory of git repositories, or a prepared `git log -p` file. */
    history: { type: "string" },
  },
});
const MB = 1024 * 1024;
const runs = Number(values.runs);
const dir = path.resolve(values.dir);
mkdirSync(dir, { recursive: true });
const defaultRoots = [
  "node_modules",
  "/usr/include",
  "/usr/share",
  "/usr/lib/python3",
  "/usr/lib/node_modules",
];
const roots = (values.roots?.split(",") ?? defaultRoots).map((r) => path.resolve(r));

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const gbps = (bytes: number, seconds: number) => bytes / seconds / 1e9;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

console.log(`patrol detector benchmark — node ${process.version}, ${process.arch}, one core`);
if (ripgrepMissing())
  console.log(
    "ripgrep (rg) is NOT installed: patrol's figures only, no comparison (apt-get install ripgrep)",
  );
else console.log(`ripgrep: ${execFileSync("rg", ["--version"]).toString().split("\n")[0]}`);
const rows: string[] = [];
if (!values["skip-synthetic"]) await benchSynthetic();
const historySource =
  values.history ?? [path.join(dir, "repos"), path.join(dir, "history.diff")].find((p) => existsSync(p));
if (historySource)
  rows.push(
    ...(await benchHistory({
      source: historySource,
      corpusDir: dir,
      runs,
      cli: path.resolve("dist/src/cli/main.js"),
    })),
  );
else
  console.log(
    `\nreal history: skipped — give -- --history DIR (git repositories) or FILE (git log -p), or put repositories in ${path.join(dir, "repos")}`,
  );

async function benchSynthetic(): Promise<void> {
  const t0 = Date.now();
  const corpus = buildCorpus({
    file: path.join(dir, "corpus.diff"),
    roots,
    sizeBytes: Number(values["size-mb"]) * MB,
    plantEvery: 40,
  });
  console.log(
    `corpus: ${corpus.file} — ${fmt(corpus.size / MB, 0)} MiB added-lines diff of real text files, ${corpus.planted.length} planted tokens (ready in ${fmt((Date.now() - t0) / 1000, 1)} s)`,
  );
  const bytes = readFileSync(corpus.file);

  interface Measured {
    seconds: number;
    findings: Finding[];
    blockMs: number[];
  }

  /** Feeds the in-memory corpus to the streaming scanner in 1 MiB chunks, as a stream would. */
  function scanCorpus(options: Partial<DetectOptions>): Measured {
    const scanner = new StreamScanner({ kind: "diff" }, options);
    const findings: Finding[] = [];
    const blockMs: number[] = [];
    const start = process.hrtime.bigint();
    for (let at = 0; at < bytes.length; at += MB) {
      const b0 = process.hrtime.bigint();
      const found = scanner.push(bytes.subarray(at, Math.min(bytes.length, at + MB)));
      blockMs.push(Number(process.hrtime.bigint() - b0) / 1e6);
      for (const f of found) findings.push(f);
    }
    for (const f of scanner.end()) findings.push(f);
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, findings, blockMs };
  }

  function check(name: string, findings: Finding[], wanted: Planted[]): void {
    const got = new Set(findings.map((f) => `${f.fingerprint} ${f.encoding} ${f.path}:${f.line}`));
    const missing = wanted.filter((p) => !got.has(`${p.fingerprint} ${p.encoding} ${p.path}:${p.line}`));
    if (missing.length > 0) {
      console.error(
        `${name}: ${missing.length} of ${wanted.length} planted tokens NOT found, e.g.`,
        missing.slice(0, 3),
      );
      process.exitCode = 1;
    } else console.log(`  ${name}: all ${wanted.length} planted tokens found where planted`);
  }

  function bestOf(options: Partial<DetectOptions>): Measured {
    let best: Measured | null = null;
    for (let r = 0; r < runs; r++) {
      const m = scanCorpus(options);
      if (!best || m.seconds < best.seconds) best = m;
    }
    return best!;
  }

  function ripgrep(pattern: string, extra: string[] = []): number | null {
    if (spawnSync("rg", ["--version"]).status !== 0) return null;
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs; r++) {
      const start = process.hrtime.bigint();
      const res = spawnSync("rg", ["-c", "-a", ...extra, pattern, corpus.file], { maxBuffer: 1 << 20 });
      if (res.status !== 0 && res.status !== 1) throw new Error(`rg failed: ${res.stderr}`);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
    }
    return best;
  }

  const CASK_REGEX = "[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-z0-9]{7}";
  const LEGACY_REGEX = "(?:[^2-7a-z]|^)[2-7a-z]{52}(?:[^2-7a-z]|$)";

  // Plain planted tokens are what the format-only configurations must find (a URL userinfo is plain text).
  const plainOf = (format: Planted["format"]) =>
    corpus.planted
      .filter((p) => p.format === format && (p.encoding === "plain" || p.encoding === "url"))
      .map((p) => ({ ...p, encoding: "plain" as const }));

  console.log("\nthroughput (corpus in memory, streamed in 1 MiB chunks; best of", runs, "runs)");
  const configs: { name: string; options: Partial<DetectOptions>; regex: string; wanted: Planted[] }[] = [
    {
      name: "84-char format only",
      options: { legacy: false, encoded: false },
      regex: CASK_REGEX,
      wanted: plainOf("azdo-pat"),
    },
    {
      name: "legacy format only",
      options: { azdo: false, encoded: false },
      regex: LEGACY_REGEX,
      wanted: plainOf("azdo-pat-legacy"),
    },
    { name: "everything on", options: {}, regex: LEGACY_REGEX, wanted: corpus.planted },
  ];
  for (const c of configs) {
    const m = bestOf(c.options);
    const sorted = [...m.blockMs].sort((a, b) => a - b);
    const rg = ripgrep(c.regex);
    const ours = gbps(bytes.length, m.seconds);
    const rgRate = rg === null ? null : gbps(bytes.length, rg);
    console.log(
      `${c.name.padEnd(20)} ${fmt(ours * 1000, 0).padStart(6)} MB/s   per 1 MiB block p50 ${fmt(percentile(sorted, 50), 3)} ms  p99 ${fmt(percentile(sorted, 99), 3)} ms  max ${fmt(sorted[sorted.length - 1], 3)} ms`,
    );
    if (rgRate !== null) {
      const label = c.regex === CASK_REGEX ? "ripgrep CASK regex  " : "ripgrep legacy regex";
      console.log(
        `  ${label} ${fmt(rgRate * 1000, 0).padStart(6)} MB/s   patrol / ripgrep = ${fmt(ours / rgRate)}×`,
      );
      rows.push(
        `| ${c.name} | ${fmt(ours * 1000, 0)} MB/s | ${label.trim()} ${fmt(rgRate * 1000, 0)} MB/s | ${fmt(ours / rgRate)}× |`,
      );
    } else console.log("  (ripgrep is NOT installed: no comparison; apt-get install ripgrep)");
    check(c.name, m.findings, c.wanted);
  }
  const rgNoMmap = ripgrep(CASK_REGEX, ["--no-mmap"]);
  if (rgNoMmap !== null)
    console.log(
      `ripgrep CASK regex with --no-mmap (read(2) like a stream): ${fmt(gbps(bytes.length, rgNoMmap) * 1000, 0)} MB/s`,
    );

  // Streaming from disk with bounded memory: at least 1 GB through one scanner.
  console.log("\nstreaming ≥ 1 GB from the file (read ahead in 8 MiB chunks, everything on)");
  async function* repeated(times: number): AsyncGenerator<Buffer> {
    for (let i = 0; i < times; i++) {
      // As patrol scan --diff FILE reads: ahead, into reused buffers.
      yield* readAhead(corpus.file);
    }
  }
  const times = Math.ceil(1e9 / bytes.length);
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 50);
  const s0 = process.hrtime.bigint();
  let streamed = 0;
  for await (const _f of scanStream(repeated(times), { kind: "diff" })) streamed++;
  const streamSeconds = Number(process.hrtime.bigint() - s0) / 1e9;
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  console.log(
    `${fmt((bytes.length * times) / 1e9)} GB in ${fmt(streamSeconds)} s = ${fmt(gbps(bytes.length * times, streamSeconds) * 1000, 0)} MB/s (read + detect), ${streamed} findings; RSS before ${fmt(rssBefore / MB, 0)} MiB (corpus held in memory), peak ${fmt(rssPeak / MB, 0)} MiB, growth ${fmt((rssPeak - rssBefore) / MB, 1)} MiB`,
  );

  // patrol scan on a git repository against git log -p alone.
  if (!values["skip-git"]) {
    const repo = path.join(dir, "repo");
    if (!existsSync(path.join(repo, ".git"))) buildRepo(repo);
    const gitSeconds = await timeCommand("git", gitLogArgs({}), repo);
    const cli = path.resolve("dist/src/cli/main.js");
    const scanSeconds = await timeCommand(
      process.execPath,
      [cli, "scan", repo, "--format", "jsonl"],
      process.cwd(),
    );
    const logBytes = Number(
      execFileSync(
        "sh",
        [
          "-c",
          `git ${gitLogArgs({})
            .map((a) => `'${a}'`)
            .join(" ")} | wc -c`,
        ],
        { cwd: repo },
      ).toString(),
    );
    console.log(`\ngit repository ${repo}: git log -p output ${fmt(logBytes / MB, 0)} MiB`);
    console.log(
      `  git log -p alone          ${fmt(gitSeconds)} s (${fmt(logBytes / gitSeconds / 1e6, 0)} MB/s)`,
    );
    console.log(
      `  patrol scan (git + detect) ${fmt(scanSeconds)} s — ${fmt((scanSeconds / gitSeconds) * 100, 0)}% of git log -p alone`,
    );
  }
}

if (rows.length > 0) {
  console.log("\nREADME table:\n| configuration | patrol | ripgrep | ratio |\n|---|---|---|---|");
  for (const r of rows) console.log(r);
}

function timeCommand(cmd: string, args: string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.resume();
    child.on("error", reject);
    child.on("close", () => resolve(Number(process.hrtime.bigint() - start) / 1e9));
  });
}

/** A repository whose history adds the project's node_modules text files over 300 commits. */
function buildRepo(repo: string): void {
  mkdirSync(repo, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@localhost", ...args], {
      cwd: repo,
      stdio: "pipe",
    });
  git("init", "-q");
  const source = path.resolve("node_modules");
  const files = readdirSync(source, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(js|ts|mjs|cjs|json|md)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  const perCommit = Math.ceil(files.length / 300);
  for (let i = 0; i < files.length; i += perCommit) {
    for (const f of files.slice(i, i + perCommit)) {
      const dest = path.join(repo, path.relative(source, f));
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, readFileSync(f));
    }
    git("add", "-A");
    git("commit", "-qm", `batch ${i / perCommit}`);
  }
}
