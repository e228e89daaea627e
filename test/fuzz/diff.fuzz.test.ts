/**
 * Property tests of the diff scanner and locator (src/detect) on generated unified diffs: whole `git diff`
 * output and GitHub's hunk-only `patch` field, with lines of arbitrary bytes (NUL, CR, invalid UTF-8, binary),
 * fed whole or in random chunks. A token planted anywhere in an added line is found once, on its path, new-file
 * line and byte column; planted in a context or removed line it is not found; arbitrary bytes never throw.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Finding, StreamScanner, scanBuffer } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { fuzzParameters } from "./fuzz-support.js";

type Kind = " " | "-" | "+";
interface Line {
  kind: Kind;
  content: Buffer;
}
interface Hunk {
  gap: number;
  lines: Line[];
}
interface FileDiff {
  path: string;
  hunks: Hunk[];
}

/** A line's bytes: anything but a newline (a trailing CR makes it a CRLF line). */
const lineBytes = fc
  .oneof(
    fc.string({ maxLength: 60 }).map((s) => Buffer.from(s, "utf8")),
    fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)),
  )
  .map((b) => Buffer.from(b.filter((byte) => byte !== 0x0a)));

const line: fc.Arbitrary<Line> = fc.record({
  kind: fc.constantFrom<Kind>(" ", "-", "+"),
  content: lineBytes,
});
const hunk: fc.Arbitrary<Hunk> = fc.record({
  gap: fc.nat({ max: 50 }),
  lines: fc.array(line, { minLength: 1, maxLength: 12 }),
});
const pathArb = fc
  .array(
    fc.stringMatching(/^[a-z0-9_.-]{1,12}$/).filter((s) => s !== "." && s !== ".."),
    {
      minLength: 1,
      maxLength: 3,
    },
  )
  .map((parts) => parts.join("/"));
const file: fc.Arbitrary<FileDiff> = fc.record({
  path: pathArb,
  hunks: fc.array(hunk, { minLength: 1, maxLength: 4 }),
});

/** Where each line of each hunk lands in the new file (null for removed lines). */
function newLineNumbers(f: FileDiff): {
  starts: { old: number; new: number }[];
  numbers: (number | null)[][];
} {
  let oldAt = 1;
  let newAt = 1;
  const starts: { old: number; new: number }[] = [];
  const numbers: (number | null)[][] = [];
  for (const h of f.hunks) {
    oldAt += h.gap;
    newAt += h.gap;
    starts.push({ old: oldAt, new: newAt });
    numbers.push(
      h.lines.map((l) => {
        if (l.kind === "-") {
          oldAt++;
          return null;
        }
        if (l.kind === " ") oldAt++;
        return newAt++;
      }),
    );
  }
  return { starts, numbers };
}

function render(files: FileDiff[], headers: boolean): Buffer {
  const parts: Buffer[] = [];
  const text = (s: string) => parts.push(Buffer.from(s, "utf8"));
  for (const f of files) {
    if (headers)
      text(
        `diff --git a/${f.path} b/${f.path}\nindex 1111111..2222222 100644\n--- a/${f.path}\n+++ b/${f.path}\n`,
      );
    const { starts } = newLineNumbers(f);
    f.hunks.forEach((h, i) => {
      const oldCount = h.lines.filter((l) => l.kind !== "+").length;
      const newCount = h.lines.filter((l) => l.kind !== "-").length;
      text(`@@ -${starts[i].old},${oldCount} +${starts[i].new},${newCount} @@ context\n`);
      for (const l of h.lines) parts.push(Buffer.from(l.kind), l.content, Buffer.from("\n"));
    });
  }
  return Buffer.concat(parts);
}

/** Scans in chunks of the given sizes (cycled), as a stream would deliver them. */
function scanChunked(bytes: Buffer, sizes: number[], path: string | undefined): Finding[] {
  const scanner = new StreamScanner({ kind: "diff", path }, { legacyCandidates: false }, { gatherBytes: 64 });
  const found: Finding[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    found.push(...scanner.push(bytes.subarray(at, at + n)));
    at += n;
  }
  return [...found, ...scanner.end()];
}

const planted = fc.record({
  files: fc.array(file, { minLength: 1, maxLength: 3 }),
  target: fc.record({ file: fc.nat(), hunk: fc.nat(), line: fc.nat() }),
  kind: fc.constantFrom<Kind>("+", "+", "+", " ", "-"),
  before: lineBytes,
  after: lineBytes,
  format: fc.constantFrom("azdo", "legacy"),
  headers: fc.boolean(),
  chunks: fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }),
});

describe("the diff scanner on generated diffs", () => {
  it("finds a token planted anywhere in an added line, once, at its path, new-file line and column", () => {
    fc.assert(
      fc.property(planted, (p) => {
        const files = p.headers ? p.files : p.files.slice(0, 1);
        const f = files[p.target.file % files.length];
        const h = f.hunks[p.target.hunk % f.hunks.length];
        const index = p.target.line % h.lines.length;
        const token = p.format === "azdo" ? mintAzdo() : mintLegacy();
        // Separators keep the token a whole word whatever bytes surround it.
        const content = Buffer.concat([p.before, Buffer.from(` ${token} `), p.after]);
        h.lines[index] = { kind: p.kind, content };
        const diff = render(files, p.headers);
        const path = p.headers ? undefined : f.path;

        const expected =
          p.kind === "+"
            ? [
                {
                  path: f.path,
                  line: newLineNumbers(f).numbers[f.hunks.indexOf(h)][index],
                  column: p.before.length + 2,
                },
              ]
            : [];
        for (const findings of [
          scanBuffer(diff, { kind: "diff", path }, { legacyCandidates: false }),
          scanChunked(diff, p.chunks, path),
        ]) {
          expect(findings.map((x) => x.fingerprint)).toEqual(expected.map(() => fingerprint(token)));
          expect(findings.map((x) => ({ path: x.path, line: x.line, column: x.column }))).toEqual(expected);
        }
      }),
      fuzzParameters(400),
    );
  });

  it("never throws on arbitrary bytes, diff-shaped or not, as a diff or as text, whole or chunked", () => {
    const diffish = fc
      .array(
        fc.oneof(
          lineBytes,
          fc
            .constantFrom(
              "diff --git a/x b/x",
              "--- a/x",
              "+++ b/x",
              "+++ ",
              "@@ -1 +1 @@",
              "@@ -0,0 +1,99999999999 @@",
              "@@ -",
              "commit 1234",
              "\\ No newline at end of file",
              "Binary files a/x and b/x differ",
            )
            .map((s) => Buffer.from(s)),
          lineBytes.map((b) => Buffer.concat([Buffer.from("+"), b])),
        ),
        { maxLength: 40 },
      )
      .map((lines) => Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));
    fc.assert(
      fc.property(
        fc.oneof(
          diffish,
          fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
        ),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }),
        (bytes, sizes) => {
          expect(() => scanBuffer(bytes, { kind: "diff" }, { legacyCandidates: true })).not.toThrow();
          expect(() => scanBuffer(bytes, { kind: "text", path: "f" })).not.toThrow();
          expect(() => scanChunked(bytes, sizes, "f")).not.toThrow();
        },
      ),
      fuzzParameters(400),
    );
  });
});
