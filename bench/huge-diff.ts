/**
 * A diff that adds one 1 GB file, scanned with bounded memory: `npm run bench:huge-diff [-- --size-mb 1024]`.
 *
 * The diff is generated as a stream (bench/huge-diff-source.ts) and scanned two ways, the two production paths
 * that take a diff stream: in this process through `scanStream({kind: "diff"})` — what the history job runs on
 * `git log -p` and `patrol scan --diff` runs on its input — and as the real command, `patrol scan --diff -
 * --format jsonl` with the diff piped to its stdin, its RSS read from /proc. Prints RSS growth over the
 * baseline, peak RSS, throughput and whether every planted token was found on its line. Exits 1 if a token is
 * missed or the growth is 150 MB or more.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { scanStream } from "../src/detect/index.js";
import { fingerprint } from "../src/tokens/index.js";
import { hugeDiff, measuredChunks, type PlantedToken } from "./huge-diff-source.js";

const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "1024" },
    "plant-every-mb": { type: "string", default: "64" },
    "skip-cli": { type: "boolean", default: false },
  },
});
const MB = 1024 * 1024;
const LIMIT_MB = 150;
const totalBytes = Number(values["size-mb"]) * MB;
const plantEveryBytes = Number(values["plant-every-mb"]) * MB;

function missed(
  planted: PlantedToken[],
  found: { fingerprint: string; line: number | null; column: number | null }[],
) {
  const seen = new Set(found.map((f) => `${f.fingerprint}:${f.line}:${f.column}`));
  return planted.filter((p) => !seen.has(`${fingerprint(p.token)}:${p.line}:${p.column}`));
}

async function inProcess(): Promise<boolean> {
  const diff = hugeDiff({ totalBytes, plantEveryBytes });
  global.gc?.();
  const measured = measuredChunks(diff.chunks(), 16);
  const started = performance.now();
  const found = [];
  for await (const f of scanStream(measured.chunks, { kind: "diff" })) found.push(f);
  const seconds = (performance.now() - started) / 1000;
  const { bytes, baseline, peak } = measured.stats;
  return report("in process (scanStream, kind diff)", {
    bytes,
    seconds,
    baseline,
    peak,
    planted: diff.planted,
    found,
  });
}

/** VmRSS of a process, bytes. */
function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function cli(): Promise<boolean> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const child = spawn(
    process.execPath,
    [path.join(root, "dist/src/cli/main.js"), "scan", "--diff", "-", "--format", "jsonl"],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString("utf8");
  });
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  const diff = hugeDiff({ totalBytes, plantEveryBytes });
  // The baseline: the command started and reading its input (the header is written first).
  const source = diff.chunks();
  const first = await source.next();
  child.stdin.write(first.value as Buffer);
  await new Promise((r) => setTimeout(r, 1000));
  const baseline = rssOf(child.pid!);
  let peak = baseline;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(child.pid!));
    } catch {}
  }, 50);
  let bytes = (first.value as Buffer).length;
  const started = performance.now();
  for await (const chunk of source) {
    bytes += chunk.length;
    if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once("drain", r));
  }
  child.stdin.end();
  const code = await exited;
  clearInterval(sampler);
  const seconds = (performance.now() - started) / 1000;
  const found = out
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { fingerprint: string; line: number | null; column: number | null });
  if (code !== 1) console.log(`  patrol scan exited ${code} (1 = tokens found)`);
  return report("patrol scan --diff - (its own process)", {
    bytes,
    seconds,
    baseline,
    peak,
    planted: diff.planted,
    found,
  });
}

function report(
  what: string,
  r: {
    bytes: number;
    seconds: number;
    baseline: number;
    peak: number;
    planted: PlantedToken[];
    found: { fingerprint: string; line: number | null; column: number | null }[];
  },
): boolean {
  const growth = (r.peak - r.baseline) / MB;
  const lost = missed(r.planted, r.found);
  console.log(
    `${what}: ${(r.bytes / MB).toFixed(0)} MB in ${r.seconds.toFixed(1)} s = ${(r.bytes / MB / r.seconds).toFixed(0)} MB/s; ` +
      `RSS ${(r.baseline / MB).toFixed(0)} → peak ${(r.peak / MB).toFixed(0)} MB (growth ${growth.toFixed(0)} MB, limit ${LIMIT_MB}); ` +
      `tokens ${r.planted.length - lost.length}/${r.planted.length} found on their line and column, findings ${r.found.length}`,
  );
  return lost.length === 0 && r.found.length === r.planted.length && growth < LIMIT_MB;
}

const ok = [await inProcess(), values["skip-cli"] ? true : await cli()].every(Boolean);
process.exit(ok ? 0 : 1);
