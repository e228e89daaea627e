/**
 * DiffLocator on hand-written diffs in hand-cut blocks: the line, path and commit of each offset, and how
 * little of the diff it reads to get them (counted as the bytes its DiffReader consumes): lines are read
 * only where a finding needs them, from the last hunk header before it.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Block } from "../../src/detect/blocks.js";
import { DiffReader } from "../../src/detect/diff-lines.js";
import { DiffLocator } from "../../src/detect/diff-locator.js";

const sha = (n: number) => n.toString(16).padStart(40, "0");

/** A git log -p of `commits` commits, 2 files each, 3 hunks of 12 lines per file; `mark` lines added. */
function log(commits: number, marks: Record<string, string> = {}): string {
  const out: string[] = [];
  for (let c = 0; c < commits; c++) {
    out.push(`commit ${sha(c + 1)}`, "Author: T <t@example.com>", "", `    change ${c}`, "");
    for (let f = 0; f < 2; f++) {
      const path = `c${c}/f${f}.txt`;
      out.push(
        `diff --git a/${path} b/${path}`,
        "index 1111111..2222222 100644",
        `--- a/${path}`,
        `+++ b/${path}`,
      );
      for (let h = 0; h < 3; h++) {
        const start = 100 * h + 1;
        out.push(`@@ -${start},8 +${start},8 @@ section ${h}`);
        for (let n = 0; n < 4; n++) out.push(` context ${n}`, `-old ${n}`);
        for (let n = 0; n < 4; n++) out.push(marks[`${c}/${f}/${h}/${n}`] ?? `+new ${n}`);
      }
    }
  }
  return `${out.join("\n")}\n`;
}

const whole = (bytes: Buffer, base = 0): Block => ({
  bytes,
  base,
  fresh: 0,
  ownFrom: 0,
  ownTo: bytes.length,
  loRunEncoding: null,
});

/** Cuts `text` into blocks of whole lines of about `size` bytes. */
function blocksOf(text: string, size: number): Block[] {
  const bytes = Buffer.from(text, "latin1");
  const out: Block[] = [];
  for (let at = 0; at < bytes.length; ) {
    const nl = bytes.indexOf(0x0a, Math.min(bytes.length - 1, at + size));
    const end = nl === -1 ? bytes.length : nl + 1;
    out.push(whole(bytes.subarray(at, end), at));
    at = end;
  }
  return out;
}

/** Locates `needle`'s occurrences in `text`, fed as `blocks`; returns what was found and the bytes read. */
function locate(text: string, needle: string, blocks: Block[], retainCap?: number) {
  let read = 0;
  const consume = DiffReader.prototype.consume;
  vi.spyOn(DiffReader.prototype, "consume").mockImplementation(function (
    this: DiffReader,
    ...args: Parameters<DiffReader["consume"]>
  ) {
    read += args[3] - args[2];
    return consume.apply(this, args);
  });
  const locator = new DiffLocator({}, retainCap);
  const found: string[] = [];
  for (const b of blocks) {
    const offsets: number[] = [];
    for (
      let i = text.indexOf(needle, b.base);
      i !== -1 && i < b.base + b.bytes.length;
      i = text.indexOf(needle, i + 1)
    )
      offsets.push(i);
    locator.locate(b, offsets).forEach((info, k) => {
      found.push(
        info
          ? `${info.commit === null ? "-" : info.commit.slice(-2)} ${info.path}:${info.line}:${offsets[k] - info.contentStart + 1}`
          : "null",
      );
    });
  }
  vi.restoreAllMocks();
  return { found, read };
}

describe("DiffLocator", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // A 60-commit log (~64 KB) with one finding in the middle and one at the end.
  const text = log(60, { "30/1/2/1": "+x = TOKEN", "59/0/1/3": "+   TOKEN" });

  it("finds line, path and commit of each finding in one block, reading only their hunks", () => {
    const { found, read } = locate(text, "TOKEN", [whole(Buffer.from(text, "latin1"))]);
    expect(found).toEqual(["1f c30/f1.txt:206:5", "3c c59/f0.txt:108:4"]);
    expect(text.length).toBeGreaterThan(60_000);
    expect(read).toBeLessThan(1000);
  });

  it("the same in small blocks, keeping only what follows the last hunk header of each", () => {
    for (const size of [1, 100, 700, 5000]) {
      const { found, read } = locate(text, "TOKEN", blocksOf(text, size));
      expect(found, `blocks of ${size}`).toEqual(["1f c30/f1.txt:206:5", "3c c59/f0.txt:108:4"]);
      // Header lines (commit, `+++`) read to know the context: a few per commit, not the hunks.
      expect(read, `blocks of ${size}`).toBeLessThan(text.length / 10);
    }
  });

  it("with a small cap, reads a long hunk as it drops it, and still counts its lines right", () => {
    const lines = Array.from({ length: 300 }, (_, n) => ` context ${n}`);
    const long = `--- a/l\n+++ b/l\n@@ -1,300 +1,301 @@\n${lines.join("\n")}\n+TOKEN\n`;
    for (const cap of [64, 1000, 1 << 20]) {
      const { found, read } = locate(long, "TOKEN", blocksOf(long, 200), cap);
      expect(found, `cap ${cap}`).toEqual(["- l:301:1"]);
      expect(read).toBeLessThan(long.length + 100);
    }
  });

  it("finds the hunk header of a long hunk far back, in one block, and takes no `@@ -` inside a line for one", () => {
    const lines = Array.from({ length: 400 }, (_, n) =>
      n === 7 ? " see @@ -9 +9 @@ here" : ` context ${n}`,
    );
    const d = `--- a/l\n+++ b/l\n@@ -1,400 +1,401 @@\n${lines.join("\n")}\n+TOKEN\n`;
    const { found, read } = locate(d, "TOKEN", [whole(Buffer.from(d))]);
    expect(found).toEqual(["- l:401:1"]);
    expect(read).toBeLessThan(d.length);
  });

  it("reports null for offsets on removed lines, context lines and headers", () => {
    const d = `--- a/TOKEN\n+++ b/f\n@@ -1,2 +1,2 @@\n TOKEN\n-TOKEN\n+TOKEN TOKEN\n`;
    const { found } = locate(d, "TOKEN", [whole(Buffer.from(d))]);
    expect(found).toEqual(["null", "null", "null", "- f:2:1", "- f:2:7"]);
  });

  it("takes the path from a file header at the end of the block before the hunk", () => {
    const d = `diff --git a/p b/q\n--- a/p\n+++ b/q\n@@ -1 +1 @@\n-x\n+TOKEN\n`;
    const headerEnd = d.indexOf("@@");
    for (const cut of [headerEnd, d.indexOf("+++"), d.indexOf("--- ")]) {
      const bytes = Buffer.from(d);
      const blocks = [whole(bytes.subarray(0, cut)), whole(bytes.subarray(cut), cut)];
      expect(locate(d, "TOKEN", blocks).found, `cut at ${cut}`).toEqual(["- q:1:1"]);
    }
  });

  it("a later hunk of a file inherits its path; a hunk after another commit's line gets that commit", () => {
    const d = [
      `commit ${sha(1)}`,
      "--- a/one",
      "+++ b/one",
      "@@ -1 +1 @@",
      "+a",
      "@@ -9 +9 @@",
      "+TOKEN",
      `commit ${sha(2)}`,
      "--- a/two",
      "+++ b/two",
      "@@ -4 +4 @@",
      "+TOKEN",
      "",
    ].join("\n");
    for (const size of [1, 30, 1000]) {
      expect(locate(d, "TOKEN", blocksOf(d, size)).found, `blocks of ${size}`).toEqual([
        "01 one:9:1",
        "02 two:4:1",
      ]);
    }
  });

  it("starts from the commit and path it is given, for a hunk-only patch", () => {
    const d = "@@ -1 +1,2 @@\n a\n+TOKEN\n";
    const locator = new DiffLocator({ commit: "c".repeat(40), path: "given.py" });
    const [info] = locator.locate(whole(Buffer.from(d)), [d.indexOf("TOKEN")]);
    expect(info && [info.commit, info.path, info.line]).toEqual(["c".repeat(40), "given.py", 2]);
  });

  it("tells apart findings at the start of consecutive lines", () => {
    const d = "--- a/f\n+++ b/f\n@@ -0,0 +1,3 @@\n+TOKEN\n+TOKEN\n+xTOKEN\n";
    expect(locate(d, "TOKEN", [whole(Buffer.from(d))]).found).toEqual(["- f:1:1", "- f:2:1", "- f:3:2"]);
  });

  it("takes no added line that reads `++ x` before a later hunk for a file header", () => {
    const d = [
      "--- a/f",
      "+++ b/f",
      "@@ -1,2 +1,2 @@",
      " keep",
      "-- gone",
      "+++ x",
      "@@ -40 +40 @@",
      "+TOKEN",
      "",
    ].join("\n");
    for (const size of [1, 25, 1000])
      expect(locate(d, "TOKEN", blocksOf(d, size)).found, `blocks of ${size}`).toEqual(["- f:40:1"]);
  });

  it("an offset in the overlap after a cut is on the line left open by the block before", () => {
    const d = `--- a/g\n+++ b/g\n@@ -0,0 +1,2 @@\n+aaaaaaaaaaTOKENbbbbbbbbbb\n+TOKEN\n`;
    const bytes = Buffer.from(d);
    const cut = d.indexOf("TOKEN") + 3; // inside the giant line
    const first = { ...whole(bytes.subarray(0, cut)), ownTo: cut - 2 };
    const overlapFrom = cut - 6;
    const second: Block = {
      bytes: bytes.subarray(overlapFrom),
      base: overlapFrom,
      fresh: 6,
      ownFrom: 4,
      ownTo: bytes.length - overlapFrom,
      loRunEncoding: null,
    };
    const locator = new DiffLocator();
    // On the cut line before the cut: the line has no end in this block.
    const early = d.indexOf("aaa") + 2;
    expect(locator.locate(first, [early]).map((i) => i && `${i.path}:${i.line}:${i.contentStart}`)).toEqual([
      `g:1:${d.indexOf("aaa")}`,
    ]);
    const infos = locator.locate(second, [d.indexOf("TOKEN"), d.lastIndexOf("TOKEN")]);
    expect(infos.map((i) => i && `${i.path}:${i.line}:${i.contentStart}`)).toEqual([
      `g:1:${d.indexOf("aaa")}`,
      `g:2:${d.lastIndexOf("TOKEN")}`,
    ]);
  });
});
