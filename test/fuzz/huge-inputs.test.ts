/**
 * Huge and odd inputs. A diff adding one 200 MB file (the CI-sized run of `npm run bench:huge-diff`, which does
 * 1 GB), generated as a stream, is scanned by `scanStream` — what the history job runs on `git log -p` and
 * `patrol scan --diff` on its input — with bounded memory and every planted token found on its line. Binary
 * blobs, CRLF, invalid UTF-8 and a 100,000-line hunk are scanned fine.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hugeDiff, measuredChunks } from "../../bench/huge-diff-source.js";
import { type Finding, scanBuffer, scanStream } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";

const MB = 1024 * 1024;

function located(findings: Finding[]) {
  return findings.map((f) => ({ fingerprint: f.fingerprint, line: f.line, column: f.column }));
}

describe("a diff adding a 200 MB file", () => {
  it("is scanned as a stream with RSS growth well under 150 MB, every planted token found on its line", async () => {
    const diff = hugeDiff({ totalBytes: 200 * MB, plantEveryBytes: 8 * MB });
    const measured = measuredChunks(diff.chunks(), 8);
    const found: Finding[] = [];
    for await (const f of scanStream(measured.chunks, { kind: "diff" })) found.push(f);
    const { bytes, baseline, peak } = measured.stats;
    expect(bytes).toBeGreaterThan(200 * MB);
    expect(diff.planted.length).toBe(25);
    expect(located(found)).toEqual(
      diff.planted.map((p) => ({ fingerprint: fingerprint(p.token), line: p.line, column: p.column })),
    );
    expect(found.every((f) => f.path === diff.path)).toBe(true);
    // The bench measures ~50 MB at this size and ~110 MB at 1–3 GB; 150 MB is the bound.
    expect((peak - baseline) / MB).toBeLessThan(150);
  }, 30_000);
});

describe("odd inputs", () => {
  it("a 100,000-line hunk of CRLF lines with invalid UTF-8 and NUL bytes: tokens found on their lines", async () => {
    const tokens = new Map([
      [1, mintAzdo()],
      [50_000, mintLegacy()],
      [100_000, mintAzdo()],
    ]);
    const parts: Buffer[] = [Buffer.from("@@ -0,0 +1,100000 @@\n")];
    const junk = Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xe2, 0x82, 0x20, 0x80]);
    for (let n = 1; n <= 100_000; n++) {
      const token = tokens.get(n);
      parts.push(Buffer.from(`+line ${n} `), junk, Buffer.from(token ? ` ${token}\r\n` : " text\r\n"));
    }
    const patch = Buffer.concat(parts);
    const expected = [...tokens].map(([line, token]) => ({
      fingerprint: fingerprint(token),
      line,
      column: `line ${line} `.length + junk.length + 2,
    }));
    expect(located(scanBuffer(patch, { kind: "diff", path: "big.txt" }))).toEqual(expected);
    // In 64 KiB pieces, retaining almost nothing (lines are counted as the bytes go by): the same answer.
    async function* pieces() {
      for (let at = 0; at < patch.length; at += 64 * 1024) yield patch.subarray(at, at + 64 * 1024);
    }
    const streamed: Finding[] = [];
    for await (const f of scanStream(pieces(), { kind: "diff", path: "big.txt" }, {}, { retainCap: 4096 }))
      streamed.push(f);
    expect(located(streamed)).toEqual(expected);
  });

  it("a binary blob of random bytes holding tokens, whole and in 64 KiB pieces", async () => {
    const azdo = mintAzdo();
    const legacy = mintLegacy();
    const blob = randomBytes(3 * MB);
    // Random bytes hold no token of ours; plant two, each between non-alphanumeric bytes.
    blob.set(Buffer.from(`\n ${azdo} `), 1 * MB);
    blob.set(Buffer.from(`\x00${legacy}\x00`), 2 * MB);
    const lineAt = (offset: number) => blob.subarray(0, offset).filter((b) => b === 0x0a).length + 1;
    const found = scanBuffer(blob, { kind: "text", path: "bin/blob.dat" });
    expect(found.map((f) => [f.fingerprint, f.line])).toEqual([
      [fingerprint(azdo), lineAt(MB + 1)],
      [fingerprint(legacy), lineAt(2 * MB)],
    ]);

    async function* pieces() {
      for (let at = 0; at < blob.length; at += 64 * 1024) yield blob.subarray(at, at + 64 * 1024);
    }
    const streamed: Finding[] = [];
    for await (const f of scanStream(pieces(), { kind: "text", path: "bin/blob.dat" })) streamed.push(f);
    expect(located(streamed)).toEqual(located(found));
  });
});
