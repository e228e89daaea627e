import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Finding,
  type ScanInput,
  StreamScanner,
  scanBuffer,
  scanStream,
} from "../../src/detect/index.js";
import { readAhead } from "../../src/sources/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { b64 } from "../support/detect.js";

/** A git log -p stream with many commits, files and hunks, and tokens of every form on known lines. */
function buildLog(): { log: Buffer; expected: string[] } {
  const parts: string[] = [];
  const expected: string[] = [];
  for (let c = 0; c < 12; c++) {
    const commit = c.toString(16).padStart(40, "c");
    parts.push(`commit ${commit}\n\n    change ${c}\n\n`);
    for (let f = 0; f < 4; f++) {
      const path = `dir${c}/file${f}.txt`;
      parts.push(`diff --git a/${path} b/${path}\nindex 1..2 100644\n--- a/${path}\n+++ b/${path}\n`);
      let newLine = 10 * f + 1;
      const lines: string[] = [];
      for (let k = 0; k < 40; k++) {
        const kind = (c * 7 + f * 3 + k) % 17;
        if (kind === 0) {
          const t = mintAzdo();
          lines.push(`+const key = "${t}";`);
          expected.push(`${fingerprint(t)} plain ${commit} ${path}:${newLine}:14`);
          newLine++;
        } else if (kind === 5) {
          const t = mintLegacy();
          lines.push(`+Authorization: Basic ${b64(`:${t}`)}`);
          expected.push(`${fingerprint(t)} basic-auth ${commit} ${path}:${newLine}:22`);
          newLine++;
        } else if (kind === 9) {
          lines.push(`-removed ${mintAzdo()}`);
        } else if (kind === 11) {
          lines.push(` context ${mintLegacy()}`);
          newLine++;
        } else {
          lines.push(`+${"filler text ".repeat((k % 5) + 1)}`);
          newLine++;
        }
      }
      const added = lines.filter((l) => !l.startsWith("-")).length;
      const removed = lines.filter((l) => !l.startsWith("+")).length;
      parts.push(`@@ -${10 * f + 1},${removed} +${10 * f + 1},${added} @@\n${lines.join("\n")}\n`);
    }
  }
  return { log: Buffer.from(parts.join("")), expected };
}

const show = (findings: Finding[]) =>
  findings.map((f) => `${f.fingerprint} ${f.encoding} ${f.commit} ${f.path}:${f.line}:${f.column}`);

function scanInChunks(
  bytes: Buffer,
  sizes: number[],
  input: ScanInput,
  limits = {},
  options = {},
): Finding[] {
  // Gather into small blocks, so that blocks end (and the scratch buffer is reused) all through the input.
  const scanner = new StreamScanner(input, options, { gatherBytes: 2048, ...limits });
  const out: Finding[] = [];
  // One buffer for every chunk, scribbled over after each push: the scanner must keep no view of a chunk.
  const scratch = Buffer.alloc(Math.max(...sizes));
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.min(sizes[i % sizes.length], bytes.length - at);
    bytes.copy(scratch, 0, at, at + size);
    out.push(...scanner.push(scratch.subarray(0, size)));
    scratch.fill("~");
    at += size;
  }
  out.push(...scanner.end());
  return out;
}

describe("streaming", () => {
  const { log, expected } = buildLog();

  it("finds every planted token in a whole git log, on the right commit, path and line", () => {
    expect(show(scanBuffer(log, { kind: "diff" }))).toEqual(expected);
  });

  it("finds the same, wherever the chunk boundaries fall (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }), (sizes) => {
        expect(show(scanInChunks(log, sizes, { kind: "diff" }))).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });

  it("finds the same when it may retain almost nothing and must read lines as it goes", () => {
    expect(show(scanInChunks(log, [700, 3001], { kind: "diff" }, { retainCap: 256 }))).toEqual(expected);
  });

  it("finds tokens across the cuts of giant lines, with the right columns", () => {
    const a = mintAzdo();
    const l = mintLegacy();
    const encoded = mintAzdo();
    const filler = (n: number) => "x ".repeat(n / 2);
    // One 200 KB line with tokens around 16 KB cut points, and a 100 KB base64 line holding a key.
    const line1 = `${filler(16380)}${a} ${filler(20000)}${l} ${filler(163840)}`;
    const line2 = b64(`${"z".repeat(40000)}:${encoded}:${"z".repeat(35000)}`);
    const text = `${line1}\nshort\n${line2}\n`;
    const want = [
      `${fingerprint(a)} plain null f:1:16381`,
      `${fingerprint(l)} plain null f:1:${16380 + 85 + 20000 + 1}`,
      `${fingerprint(encoded)} base64 null f:3:${Math.floor(40001 / 3) * 4 + 1}`,
    ];
    const whole = show(scanBuffer(Buffer.from(text), { kind: "text", path: "f" }));
    expect(whole).toEqual(want);
    for (const sizes of [[4096], [1000, 7777], [65536]]) {
      const chunked = scanInChunks(Buffer.from(text), sizes, { kind: "text", path: "f" }, { maxLine: 16384 });
      expect(show(chunked)).toEqual(want);
    }
    // The same lines as added lines of a diff.
    const diff = `--- a/f\n+++ b/f\n@@ -0,0 +1,3 @@\n+${line1}\n+short\n+${line2}\n`;
    const diffWant = want.map((w) => w.replace(/:(\d+)$/, (_m, col) => `:${col}`));
    const chunkedDiff = scanInChunks(Buffer.from(diff), [5000, 3333], { kind: "diff" }, { maxLine: 16384 });
    expect(show(chunkedDiff)).toEqual(diffWant);
    // Without legacy tokens the encoded key is found through its signature's renderings instead.
    const azdoOnly = scanInChunks(
      Buffer.from(diff),
      [5000, 3333],
      { kind: "diff" },
      { maxLine: 16384 },
      { legacy: false },
    );
    expect(show(azdoOnly)).toEqual([diffWant[0], diffWant[2]]);
  });

  it("scans a Node stream and yields findings as it goes", async () => {
    const chunks = [log.subarray(0, 1000), log.subarray(1000, 50000), log.subarray(50000)];
    const found: Finding[] = [];
    for await (const f of scanStream(Readable.from(chunks), { kind: "diff" })) found.push(f);
    expect(show(found)).toEqual(expected);
  });

  it("scans a file read ahead in reused chunks, and yields what the source delivered before it failed", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "patrol-read-"));
    try {
      const file = path.join(dir, "log.diff");
      writeFileSync(file, log);
      for (const chunkBytes of [1000, 4096, log.length, log.length + 1]) {
        const copies: Buffer[] = [];
        for await (const chunk of readAhead(file, { chunkBytes, readAhead: 2 }))
          copies.push(Buffer.from(chunk));
        expect(Buffer.concat(copies).equals(log)).toBe(true);
        const found: Finding[] = [];
        for await (const f of scanStream(
          readAhead(file, { chunkBytes }),
          { kind: "diff" },
          {},
          { gatherBytes: 1024 },
        ))
          found.push(f);
        expect(show(found)).toEqual(expected);
      }
      writeFileSync(path.join(dir, "empty"), "");
      for await (const _ of readAhead(path.join(dir, "empty")))
        throw new Error("an empty file has no chunks");
      // A consumer that stops early leaves nothing open or failing behind.
      for await (const _ of readAhead(file, { chunkBytes: 100 })) break;
      // A source that fails part-way: the findings before the failure still come out, then the error.
      async function* failing() {
        yield log.subarray(0, 30000);
        throw new Error("source broke");
      }
      const before: Finding[] = [];
      await expect(async () => {
        for await (const f of scanStream(failing(), { kind: "diff" })) before.push(f);
      }).rejects.toThrow("source broke");
      const whole = show(scanBuffer(log.subarray(0, log.lastIndexOf("\n", 30000) + 1), { kind: "diff" }));
      expect(whole.length).toBeGreaterThan(0);
      expect(show(before).slice(0, whole.length)).toEqual(whole);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
