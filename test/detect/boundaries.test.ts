/**
 * Chunk boundaries, crossed for real. The stream scanner gathers small chunks into blocks of about 1 MiB
 * before it splits them into lines, so inputs of a few hundred kilobytes never cross a block boundary at all:
 * these inputs are several megabytes, fed in random chunk sizes (from 1 byte to more than the gathering size),
 * with a token on nearly every line so that whichever line straddles two blocks holds one.
 *
 * Only the public API is used (StreamScanner, scanStream, scanBuffer): the tests hold for any implementation.
 */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { scanBuffer, scanStream } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import {
  BEYOND_COALESCING,
  b64,
  denseLog,
  denseText,
  FORMS,
  randomChunkSizes,
  scanInChunks,
  scanPieces,
  seededRandom,
  show,
} from "../support/stream-corpus.js";

describe("multi-megabyte inputs in random chunk sizes", () => {
  const text = denseText(3.5 * 1024 * 1024);
  const log = denseLog(3.5 * 1024 * 1024);

  it("the corpora are what they claim: megabytes, tens of thousands of tokens", () => {
    expect(text.bytes.length).toBeGreaterThan(3.5 * 1024 * 1024);
    expect(text.expected.length).toBeGreaterThan(30_000);
    expect(log.bytes.length).toBeGreaterThan(3.5 * 1024 * 1024);
    expect(log.expected.length).toBeGreaterThan(20_000);
  });

  it("finds every token of a dense text, as one buffer and in random chunk sizes", () => {
    expect(show(scanBuffer(text.bytes, { kind: "text", path: "dense.txt" }))).toEqual(text.expected);
    for (const seed of [1, 2]) {
      const sizes = randomChunkSizes(seededRandom(seed));
      const found = show(scanInChunks(text.bytes, sizes, { kind: "text", path: "dense.txt" }));
      expect(found, `chunk sizes from seed ${seed}`).toEqual(text.expected);
    }
  });

  it("finds every added-line token of a dense git log on its commit, path and line, in random chunk sizes", () => {
    expect(show(scanBuffer(log.bytes, { kind: "diff" }))).toEqual(log.expected);
    for (const seed of [11, 12]) {
      const sizes = randomChunkSizes(seededRandom(seed));
      expect(show(scanInChunks(log.bytes, sizes, { kind: "diff" })), `seed ${seed}`).toEqual(log.expected);
    }
  });

  it("finds the same when every chunk is larger than the gathering size, so each push is split at once", () => {
    for (const size of [BEYOND_COALESCING / 2 + 4097]) {
      expect(show(scanInChunks(text.bytes, [size], { kind: "text", path: "dense.txt" }))).toEqual(
        text.expected,
      );
      expect(show(scanInChunks(log.bytes, [size], { kind: "diff" }))).toEqual(log.expected);
    }
  });

  it("finds the same while retaining almost nothing (lines are counted as it goes)", () => {
    const sizes = randomChunkSizes(seededRandom(21));
    expect(show(scanInChunks(log.bytes, sizes, { kind: "diff" }, { retainCap: 4096 }))).toEqual(log.expected);
  });

  it("finds the same from a Node stream of random chunk sizes", async () => {
    const random = seededRandom(31);
    const sizes = randomChunkSizes(random);
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < log.bytes.length; i++) {
      const size = sizes[i % sizes.length];
      chunks.push(Buffer.from(log.bytes.subarray(at, at + size)));
      at += size;
    }
    const found = [];
    for await (const f of scanStream(Readable.from(chunks), { kind: "diff" })) found.push(f);
    expect(show(found)).toEqual(log.expected);
  });
});

/**
 * Every kind of boundary: a small document holding one token of each form is put between two fillers larger
 * than the gathering size, and the input is cut in two at each interesting offset of the document (inside
 * and at the edges of each token, between a diff's `+` and its text, inside each header line). Both pieces are
 * bigger than the gathering size, so the cut is a real boundary between blocks.
 */
describe("a token across every kind of boundary", () => {
  const fillerLine = "filler words with no secret in them at all, repeated to fill\n";
  const fillerLines = Math.ceil(BEYOND_COALESCING / fillerLine.length);
  const textFiller = fillerLine.repeat(fillerLines);

  /** Offsets worth cutting at around `[start, end)`: before, at and after each edge, and the middle. */
  const around = (start: number, end: number) => [
    start - 1,
    start,
    start + 1,
    Math.floor((start + end) / 2),
    end - 1,
    end,
    end + 1,
  ];

  it("in plain text: every form, cut inside, at and next to each token and its newline", () => {
    const placed = FORMS.map((form, k) => form(k));
    const lines = placed.map((p) => p.text);
    const doc = `${lines.join("\n")}\n`;
    const expected = placed.map(
      (p, i) => `${fingerprint(p.token)} ${p.encoding} null f.txt:${fillerLines + i + 1}:${p.at + 1}`,
    );
    const cuts: number[] = [];
    let lineStart = 0;
    for (const p of placed) {
      const tokenText = p.encoding === "plain" || p.encoding === "url" ? p.token : p.text.slice(p.at);
      const start = lineStart + p.text.indexOf(tokenText);
      cuts.push(...around(start, start + tokenText.length), lineStart + p.text.length + 1);
      lineStart += p.text.length + 1;
    }
    const head = Buffer.from(textFiller);
    const tail = Buffer.from(textFiller);
    const bytes = Buffer.from(doc);
    for (const cut of cuts) {
      const pieces = [
        Buffer.concat([head, bytes.subarray(0, cut)]),
        Buffer.concat([bytes.subarray(cut), tail]),
      ];
      expect(show(scanPieces(pieces, { kind: "text", path: "f.txt" })), `cut at ${cut}`).toEqual(expected);
    }
  });

  it("in a diff: cut inside commit, file and hunk headers, after a `+` marker and inside tokens", () => {
    const fillerCommit = `commit ${"f".repeat(40)}\n\ndiff --git a/fill b/fill\n--- a/fill\n+++ b/fill\n@@ -0,0 +1,${fillerLines} @@\n`;
    const filler = fillerCommit + `+${fillerLine}`.repeat(fillerLines);
    const commit = "c0ffee".padEnd(40, "1");
    const azdo = mintAzdo();
    const legacy = mintLegacy();
    const encoded = mintAzdo({ long: true });
    const lines = [
      `commit ${commit}`,
      "",
      "    add secrets",
      "",
      "diff --git a/conf/app.env b/conf/app.env",
      "--- a/conf/app.env",
      "+++ b/conf/app.env",
      "@@ -7,2 +7,4 @@ section",
      " unchanged",
      `+${azdo}`,
      `-removed ${mintAzdo()}`,
      `+Authorization: Basic ${b64(`ci:${legacy}`)}`,
      `+${b64(encoded)}`,
    ];
    const doc = `${lines.join("\n")}\n`;
    const expected = [
      `${fingerprint(azdo)} plain ${commit} conf/app.env:8:1`,
      `${fingerprint(legacy)} basic-auth ${commit} conf/app.env:9:26`,
      `${fingerprint(encoded)} base64 ${commit} conf/app.env:10:1`,
    ];
    const cuts: number[] = [];
    let lineStart = 0;
    for (const line of lines) {
      // Each line's start, after its first byte (the `+` marker), its middle and its end.
      cuts.push(lineStart, lineStart + 1, lineStart + Math.floor(line.length / 2), lineStart + line.length);
      if (line.startsWith("+") && !line.startsWith("+++"))
        cuts.push(...around(lineStart + 1, lineStart + line.length));
      lineStart += line.length + 1;
    }
    const head = Buffer.from(filler);
    const tailCommit = `commit ${"e".repeat(40)}\n\ndiff --git a/z b/z\n--- a/z\n+++ b/z\n@@ -0,0 +1,${fillerLines} @@\n`;
    const tail = Buffer.from(tailCommit + `+${fillerLine}`.repeat(fillerLines));
    const bytes = Buffer.from(doc);
    for (const cut of cuts) {
      const pieces = [
        Buffer.concat([head, bytes.subarray(0, cut)]),
        Buffer.concat([bytes.subarray(cut), tail]),
      ];
      expect(show(scanPieces(pieces, { kind: "diff" })), `cut at ${cut}`).toEqual(expected);
    }
  });

  it("a line cut inside its token or its CRLF, then fed one byte at a time, still yields the token", () => {
    const token = mintAzdo();
    const doc = Buffer.from(`x = ${token}\r\nnext\r\n`);
    const head = Buffer.from(textFiller);
    const want = [`${fingerprint(token)} plain null f:${fillerLines + 1}:5`];
    for (const cut of [4, 40, doc.indexOf("\r\n") + 1]) {
      const ones = [...doc.subarray(cut)].map((b) => Buffer.from([b]));
      const pieces = [Buffer.concat([head, doc.subarray(0, cut)]), ...ones];
      expect(show(scanPieces(pieces, { kind: "text", path: "f" })), `cut at ${cut}`).toEqual(want);
    }
  });
});
