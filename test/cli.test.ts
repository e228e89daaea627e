import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatProgress, ProgressLine, showsProgress } from "../src/report/index.js";
import { HistoryTally } from "../src/sources/index.js";
import { expectedChecksum, fingerprint, mintAzdo, mintLegacy } from "../src/tokens/index.js";
import { checkIndependently } from "./support/independent-formats.js";

const CLI = path.resolve("dist/src/cli/main.js");

function patrol(args: string[], options: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", ...options });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();
}

describe("patrol token", () => {
  it("mints tokens that an independent implementation of the formats validates, and agrees with it on every one", () => {
    for (const flags of [[], ["--long"], ["--legacy"], ["--legacy", "--application"]]) {
      const minted = patrol(["token", "mint", "--count", "150", ...flags]);
      expect(minted.code).toBe(0);
      const tokens = minted.stdout.trim().split("\n");
      expect(tokens).toHaveLength(150);
      expect(new Set(tokens).size).toBe(150);
      // Corrupt every third token in one character so both verdicts are exercised.
      const inputs = tokens.map((t, i) =>
        i % 3 === 0 ? `${t.slice(0, 20)}${t[20] === "a" ? "b" : "a"}${t.slice(21)}` : t,
      );
      const checked = patrol(["token", "check", "-", "--json"], { input: inputs.join("\n") });
      expect(checked.code).toBe(1); // some are corrupted
      const verdicts = checked.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(verdicts).toHaveLength(150);
      inputs.forEach((token, i) => {
        const independent = checkIndependently(token);
        expect(verdicts[i].valid).toBe(independent.valid);
        expect(verdicts[i].valid).toBe(i % 3 !== 0);
        if (independent.valid) {
          expect(verdicts[i].format).toBe(independent.format);
          expect(verdicts[i].kind).toBe(independent.kind);
          expect(verdicts[i].fingerprint).toBe(fingerprint(token));
          if (independent.format === "azdo-pat") {
            expect([verdicts[i].year, verdicts[i].month, verdicts[i].form]).toEqual([
              independent.year,
              independent.month,
              independent.form,
            ]);
          }
        }
      });
    }
  });

  it("checks one token with exit 0 or 1 and prints its fields", () => {
    const token = mintAzdo();
    const ok = patrol(["token", "check", token]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("valid: true");
    expect(ok.stdout).toContain("provider: AZDO");
    expect(patrol(["token", "check", "nope"]).code).toBe(1);
    // A checksum-valid key of the same family with another provider signature is not ours, and it says why.
    const prefix = `${token.slice(0, 76)}XYZW`;
    const foreign = patrol(["token", "check", `${prefix}${expectedChecksum(prefix).short}`]);
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toContain("valid: false");
    expect(foreign.stdout).toContain(
      `reason: provider signature "XYZW" at characters 76–80, not AZDO: another service's key of the same family (its checksum is valid)`,
    );
    expect(patrol(["token", "mint", "--legacy", "--long"]).code).toBe(2);
  });
});

describe("patrol scan", () => {
  let repo: string;
  let work: string;
  const first = mintAzdo();
  const second = mintLegacy();
  const onBranch = mintAzdo({ long: true });
  const inBinary = mintAzdo();
  const commits: string[] = [];

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "patrol-cli-"));
    repo = path.join(work, "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(path.join(repo, "a.txt"), `hello\nkey=${first}\n`);
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "add a");
    commits.push(git(repo, "rev-parse", "HEAD"));
    git(repo, "mv", "a.txt", "b.txt");
    writeFileSync(
      path.join(repo, "b.txt"),
      `hello\nkey=${first}\nurl=https://me:${second}@dev.azure.com/o\n`,
    );
    writeFileSync(
      path.join(repo, "blob.bin"),
      Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(` ${inBinary} `)]),
    );
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "rename, add url and a binary");
    commits.push(git(repo, "rev-parse", "HEAD"));
    writeFileSync(path.join(repo, "b.txt"), "hello\n");
    git(repo, "commit", "-qam", "remove the tokens");
    commits.push(git(repo, "rev-parse", "HEAD"));
    git(repo, "checkout", "-q", "-b", "side");
    writeFileSync(path.join(repo, "side.txt"), `${onBranch}\n`);
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "side");
    git(repo, "checkout", "-q", "main");
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("scans the current branch's history and prints JSONL with exactly the contract's keys", () => {
    const r = patrol(["scan", repo, "--format", "jsonl"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    const findings = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    for (const f of findings) {
      expect(Object.keys(f)).toEqual([
        "format",
        "fingerprint",
        "checksumValid",
        "encoding",
        "commit",
        "path",
        "line",
        "column",
        "redacted",
      ]);
    }
    const brief = findings.map(
      (f) => `${f.fingerprint.slice(0, 12)} ${f.encoding} ${f.commit} ${f.path}:${f.line}:${f.column}`,
    );
    expect(brief).toEqual([
      `${fingerprint(second).slice(0, 12)} url ${commits[1]} b.txt:3:16`,
      `${fingerprint(inBinary).slice(0, 12)} plain ${commits[1]} blob.bin:1:6`,
      `${fingerprint(first).slice(0, 12)} plain ${commits[0]} a.txt:2:5`,
    ]);
    for (const token of [first, second, inBinary]) expect(r.stdout).not.toContain(token.slice(4, -4));
  });

  it("takes --range, --all and --no-binary", () => {
    const range = patrol(["scan", repo, "--range", `${commits[0]}..main`, "--format", "jsonl"]);
    expect(range.code).toBe(1);
    expect(range.stdout.trim().split("\n")).toHaveLength(2);
    const all = patrol(["scan", repo, "--all", "--format", "jsonl"]);
    expect(all.stdout).toContain(fingerprint(onBranch));
    expect(patrol(["scan", repo, "--format", "jsonl"]).stdout).not.toContain(fingerprint(onBranch));
    const noBinary = patrol(["scan", repo, "--no-binary", "--format", "jsonl"]);
    expect(noBinary.stdout).not.toContain(fingerprint(inBinary));
    const clean = patrol(["scan", repo, "--range", `${commits[1]}..${commits[2]}`]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe("no tokens found\n");
  });

  it("scans a diff from stdin or a file, and files and directories", () => {
    const diff = git(repo, "log", "-p", "--format=commit %H", "main");
    const fromStdin = patrol(["scan", "--diff", "-", "--format", "jsonl"], { input: `${diff}\n` });
    expect(fromStdin.code).toBe(1);
    expect(fromStdin.stdout.trim().split("\n")).toHaveLength(2); // git log without --text skips the binary
    const diffFile = path.join(work, "changes.diff");
    writeFileSync(diffFile, `${diff}\n`);
    expect(patrol(["scan", "--diff", diffFile, "--format", "jsonl"]).stdout).toBe(fromStdin.stdout);
    git(repo, "checkout", "-q", commits[1]);
    const files = patrol(["scan", "--files", repo, "--format", "jsonl"]);
    git(repo, "checkout", "-q", "main");
    const paths = files.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).path);
    expect(paths.sort()).toEqual([
      path.join(repo, "b.txt"),
      path.join(repo, "b.txt"),
      path.join(repo, "blob.bin"),
    ]);
  });

  it("writes SARIF 2.1.0 that code scanning accepts", () => {
    const r = patrol(["scan", repo, "--format", "sarif"]);
    expect(r.code).toBe(1);
    const sarif = JSON.parse(r.stdout);
    expect(sarif.version).toBe("2.1.0");
    expect(sarif.$schema).toMatch(/sarif-2\.1\.0/);
    const run = sarif.runs[0];
    expect(run.tool.driver.name).toBe("patrol");
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).toEqual(["azdo-pat", "azdo-pat-legacy"]);
    expect(run.results).toHaveLength(3);
    for (const result of run.results) {
      expect(["azdo-pat", "azdo-pat-legacy"]).toContain(result.ruleId);
      const loc = result.locations[0].physicalLocation;
      expect(loc.artifactLocation.uri).toMatch(/^[\w.%-]+$/);
      expect(loc.region.startLine).toBeGreaterThanOrEqual(1);
      expect(loc.region.startColumn).toBeGreaterThanOrEqual(1);
      expect(result.message.text).not.toContain(first.slice(4, -4));
    }
  });

  it("exits 2 with a clear message on errors", () => {
    const notRepo = patrol(["scan", work]);
    expect(notRepo.code).toBe(2);
    expect(notRepo.stderr).toMatch(/not a git repository/);
    const badRange = patrol(["scan", repo, "--range", "nope..main"]);
    expect(badRange.code).toBe(2);
    expect(badRange.stderr).toMatch(/nope/);
    expect(patrol(["scan", path.join(work, "missing")]).stderr).toMatch(/not a directory/);
    expect(patrol(["scan", repo, "--format", "xml"]).code).toBe(2);
    expect(patrol(["scan", "--diff", "-", "--files", "x"]).code).toBe(2);
    expect(patrol(["scan", "--diff", path.join(work, "nope.diff")]).code).toBe(2);
    expect(patrol(["frobnicate"]).code).toBe(2);
  });
});

describe("patrol scan of a damaged repository, and its progress line", () => {
  let work: string;
  let repo: string;
  const shas: string[] = [];
  const newest = mintAzdo();
  const second = mintLegacy();

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "patrol-damaged-"));
    repo = path.join(work, "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    const commit = (file: string, text: string) => {
      writeFileSync(path.join(repo, file), text);
      git(repo, "add", file);
      git(repo, "commit", "-qm", `add ${file}`);
      shas.push(git(repo, "rev-parse", "HEAD"));
    };
    commit("one.txt", "first\n");
    commit("two.txt", "second\n");
    commit("lost.txt", "this blob goes missing\n");
    commit("four.txt", `pat=${second}\n`);
    commit("five.txt", `key=${newest}\n`);
    // Remove the blob that the third commit added: git log -p fails there, after two whole commits.
    const blob = git(repo, "rev-parse", "HEAD:lost.txt");
    rmSync(path.join(repo, ".git", "objects", blob.slice(0, 2), blob.slice(2)));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("reports the findings of the commits it read, then says how far it got, with exit 2", () => {
    const r = patrol(["scan", repo, "--format", "jsonl"]);
    expect(r.code).toBe(2);
    const findings = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(findings.map((f) => [f.fingerprint, f.commit])).toEqual([
      [fingerprint(newest), shas[4]],
      [fingerprint(second), shas[3]],
    ]);
    expect(r.stderr).toMatch(/unable to read/);
    expect(r.stderr).toContain("objects are missing");
    expect(r.stderr).toContain(
      `2 commits scanned in full (${r.stderr.match(/\((\d+) bytes/)?.[1]} bytes of git log -p); findings so far are complete up to commit ${shas[3]}, in git log order; the scan stopped inside commit ${shas[2]}`,
    );
    // The text report says the count is of a scan that stopped; JSON stays one whole document.
    expect(patrol(["scan", repo]).stdout).toContain("2 tokens found before the scan stopped");
    const json = patrol(["scan", repo, "--format", "json"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toHaveLength(2);
  });

  it("shows progress on a terminal's stderr during a long scan, and none on a pipe", async () => {
    // A diff that arrives in six parts a second apart: long enough for a progress line even if Node is slow
    // to start on a loaded machine (the first redraw comes a second after the scan starts).
    const part = (n: number) => path.join(work, `part${n}.diff`);
    for (const n of [1, 2, 3, 4, 5, 6])
      writeFileSync(
        part(n),
        `diff --git a/f${n} b/f${n}\n--- /dev/null\n+++ b/f${n}\n@@ -0,0 +1 @@\n+key=${mintAzdo()}\n`,
      );
    const slowScan = (out: string, stderr: string) =>
      `(cat '${part(1)}'; for n in 2 3 4 5 6; do sleep 1; cat "${work}/part$n.diff"; done) | '${process.execPath}' '${CLI}' scan --diff - --format jsonl > '${out}' ${stderr}`;
    // script(1) gives the command a terminal: what it prints there comes back on script's stdout.
    const run = (command: string) =>
      new Promise<{ status: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn("script", ["-qec", command, "/dev/null"], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        let stdout = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          stdout += d;
        });
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout }));
      });
    const errFile = path.join(work, "err.txt");
    const [onTerminal, onPipe] = await Promise.all([
      run(slowScan(path.join(work, "tty.jsonl"), "")),
      run(slowScan(path.join(work, "pipe.jsonl"), `2> '${errFile}'`)),
    ]);
    expect(onTerminal.status).toBe(1);
    expect(onTerminal.stdout).toMatch(/\r\x1b\[Kscanned \d+ B, [\d.]+ B\/s/);
    expect(onTerminal.stdout.endsWith("\r\x1b[K")).toBe(true);
    expect(onPipe.status).toBe(1);
    expect(onPipe.stdout).toBe("");
    expect(readFileSync(errFile, "utf8")).toBe("");
    for (const out of ["tty.jsonl", "pipe.jsonl"])
      expect(readFileSync(path.join(work, out), "utf8").trim().split("\n")).toHaveLength(6);
  });

  it("counts commits in a history stream wherever its chunks are cut", () => {
    // Commits without a diff (merges) put commit lines right after one another.
    const log = Buffer.from(
      shas
        .map((s, i) =>
          i % 2 ? `commit ${s}\n` : `commit ${s}\ndiff --git a/x b/x\n+commit ${"f".repeat(40)}\n`,
        )
        .join(""),
    );
    for (const size of [1, 7, 41, 64, log.length]) {
      const tally = new HistoryTally();
      for (let at = 0; at < log.length; at += size) tally.count(log.subarray(at, at + size));
      expect([tally.commits, tally.previousCommit, tally.lastCommit, tally.bytes]).toEqual([
        5,
        shas[3],
        shas[4],
        log.length,
      ]);
    }
  });

  it("draws progress only on a terminal, at most once per interval, and clears it at the end", () => {
    expect(showsProgress({ write: () => {}, isTTY: true })).toBe(true);
    expect(showsProgress({ write: () => {} })).toBe(false);
    expect(showsProgress({ write: () => {}, isTTY: false })).toBe(false);
    expect(formatProgress({ bytes: 1_234_567_890, commits: 12_345 }, 4)).toBe(
      "scanned 1.2 GB, 12,345 commits, 308.6 MB/s",
    );
    expect(formatProgress({ bytes: 999 }, 0)).toBe("scanned 999 B, –");
    let now = 0;
    const written: string[] = [];
    const line = new ProgressLine({ write: (t: string) => written.push(t), isTTY: true }, 1000, () => now);
    line.update({ bytes: 10 });
    now = 999;
    line.update({ bytes: 20 });
    expect(written).toEqual([]);
    now = 1000;
    line.update({ bytes: 2_000_000, commits: 3 });
    now = 1500;
    line.update({ bytes: 3_000_000, commits: 4 });
    now = 2000;
    line.update({ bytes: 4_000_000, commits: 5 });
    line.end();
    expect(written).toEqual([
      "\r\x1b[Kscanned 2.0 MB, 3 commits, 2.0 MB/s",
      "\r\x1b[Kscanned 4.0 MB, 5 commits, 2.0 MB/s",
      "\r\x1b[K",
    ]);
  });
});
