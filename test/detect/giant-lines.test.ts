/**
 * Lines longer than the cut size (`maxLine`): the scanner must cut them to keep memory bounded, and a token
 * across a cut must still be found once, with its column on the whole line. A cut happens only when a line
 * arrives in pieces with no newline: the giant lines here are over a megabyte of tokens one space apart, fed
 * in random sizes, so wherever the cuts fall they fall inside tokens; then single cuts placed inside each
 * form of token.
 */
import { describe, expect, it } from "vitest";
import { scanBuffer } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import {
  BEYOND_COALESCING,
  giantBase64Line,
  giantTokenLine,
  randomChunkSizes,
  scanInChunks,
  scanPieces,
  seededRandom,
  show,
} from "../support/stream-corpus.js";

const MAX_LINE = 64 * 1024;

describe("giant lines, cut with an overlap", () => {
  const giant = giantTokenLine(1.5 * 1024 * 1024, { line: 2, path: "g.txt" });
  const text = Buffer.from(`first\n${giant.text}\nlast ${"line ".repeat(10)}\n`);

  it("the line is what it claims: over a megabyte, longer than the cut size many times over", () => {
    expect(giant.text.length).toBeGreaterThan(20 * MAX_LINE);
    expect(giant.expected.length).toBeGreaterThan(15_000);
  });

  it("finds every token of a giant line of tokens, in random chunk sizes", () => {
    const sizes = randomChunkSizes(seededRandom(41));
    const found = show(scanInChunks(text, sizes, { kind: "text", path: "g.txt" }, { maxLine: MAX_LINE }));
    expect(found).toEqual(giant.expected);
  });

  /**
   * Pieces of one size S, larger than what the scanner gathers, arrive whole; a piece without a newline makes
   * it cut the line where the piece ends. A token of each form is placed across every multiple of S.
   */
  it("finds a token of each form across every cut of a 6 MB line, at the right columns", () => {
    for (const S of [BEYOND_COALESCING / 2 + 1, BEYOND_COALESCING / 2 + 4099]) {
      const forms = [
        () => ({ token: mintAzdo(), before: "", after: "", encoding: "plain", shift: 0 }),
        () => ({ token: mintLegacy(), before: "", after: "", encoding: "plain", shift: 0 }),
        () => ({ token: mintAzdo({ long: true }), before: "", after: "", encoding: "plain", shift: 0 }),
        () => ({ token: mintAzdo(), before: "https://u:", after: "@h/x", encoding: "url", shift: 10 }),
      ];
      let line = "";
      const expected: string[] = [];
      for (let k = 1; line.length < 6 * 1024 * 1024; k++) {
        const f = forms[k % forms.length]();
        const text = `${f.before}${f.token}${f.after}`;
        // Let the cut (at k·S in the stream; the line starts after "x\n") fall inside the token.
        const at = k * S - 2 - f.before.length - 20 - (k % 3) * 11;
        line = line.padEnd(at, "- ");
        expected.push(`${fingerprint(f.token)} ${f.encoding} null w:2:${line.length + f.shift + 1}`);
        line += `${text} `;
      }
      const bytes = Buffer.from(`x\n${line}\n`);
      const found = show(scanInChunks(bytes, [S], { kind: "text", path: "w" }, { maxLine: MAX_LINE }));
      expect(found, `pieces of ${S}`).toEqual(expected);
    }
  });

  it("finds every token of a giant added line of a diff, the `+` not counted in columns", () => {
    const commit = "d".repeat(40);
    const line = giantTokenLine(1024 * 1024, { line: 4, path: "big.txt", commit });
    const diff = Buffer.from(
      `commit ${commit}\n\ndiff --git a/big.txt b/big.txt\n--- a/big.txt\n+++ b/big.txt\n@@ -1,3 +1,4 @@\n a\n b\n c\n+${line.text}\n`,
    );
    const sizes = randomChunkSizes(seededRandom(43));
    expect(show(scanInChunks(diff, sizes, { kind: "diff" }, { maxLine: MAX_LINE }))).toEqual(line.expected);
    // A removed giant line holds no findings, however it is cut.
    const removed = Buffer.from(
      diff.toString().replace(`+${line.text}`, `-${line.text}`).replace("+1,4", "+1,3"),
    );
    expect(show(scanInChunks(removed, sizes, { kind: "diff" }, { maxLine: MAX_LINE }))).toEqual([]);
  });

  it("finds every key in a giant base64 line, each at the column of the group holding its start", () => {
    const line = giantBase64Line(1024 * 1024, { line: 1, path: "b.txt" });
    const bytes = Buffer.from(`${line.text}\n`);
    const sizes = randomChunkSizes(seededRandom(44));
    expect(show(scanInChunks(bytes, sizes, { kind: "text", path: "b.txt" }, { maxLine: MAX_LINE }))).toEqual(
      line.expected,
    );
    // As an added line of a diff: the `+` marker is not part of the base64 run, at a cut or not.
    const diff = Buffer.from(`--- a/b.txt\n+++ b/b.txt\n@@ -0,0 +1 @@\n+${line.text}\n`);
    expect(show(scanInChunks(diff, sizes, { kind: "diff" }, { maxLine: MAX_LINE }))).toEqual(line.expected);
  });
});

describe("giant lines at the default limits", () => {
  it("with the default limits: a line over 8 MiB is cut, and the key across the cut is found once", () => {
    const token = mintAzdo();
    const longLead = "- ".repeat(4.25 * 1024 * 1024);
    const want = [`${fingerprint(token)} plain null h:1:${longLead.length + 1}`];
    for (const split of [1, 42, 83]) {
      const pieces = [Buffer.from(longLead + token.slice(0, split)), Buffer.from(`${token.slice(split)}\n`)];
      expect(show(scanPieces(pieces, { kind: "text", path: "h" })), `split after ${split}`).toEqual(want);
    }
    // The same line as one buffer is one block, not cut: the same finding.
    expect(show(scanBuffer(Buffer.from(`${longLead}${token}\n`), { kind: "text", path: "h" }))).toEqual(want);
  });
});
