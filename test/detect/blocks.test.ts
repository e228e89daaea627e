/**
 * BlockSplitter on hand-made chunks: blocks are whole lines at the right stream offsets, only the straddling
 * line is copied, and a giant line is cut with an overlap split between the two blocks.
 */
import { describe, expect, it } from "vitest";
import { type Block, BlockSplitter, CUT_OVERLAP } from "../../src/detect/blocks.js";

const MIN_LINE = 4 * CUT_OVERLAP;
const view = (b: Block) => ({
  text: b.bytes.toString("latin1"),
  base: b.base,
  fresh: b.fresh,
  ownFrom: b.ownFrom,
  ownTo: b.ownTo,
  loRunEncoding: b.loRunEncoding,
});
const whole = (text: string, base: number) => ({
  text,
  base,
  fresh: 0,
  ownFrom: 0,
  ownTo: text.length,
  loRunEncoding: null,
});

describe("BlockSplitter", () => {
  it("refuses a cut size too small for its overlap", () => {
    expect(() => new BlockSplitter(MIN_LINE - 1)).toThrow(
      new RangeError(`maxLine must be at least ${MIN_LINE}`),
    );
    expect(() => new BlockSplitter(MIN_LINE)).not.toThrow();
  });

  it("gives whole lines, the line across chunks joined, at their stream offsets", () => {
    const s = new BlockSplitter(MIN_LINE);
    const out: Block[] = [];
    for (const chunk of ["ab\ncd", "ef\ngh\nij", "", "k", "l\n", "m\nno"])
      out.push(...s.push(Buffer.from(chunk)));
    out.push(...s.end());
    expect(out.map(view)).toEqual([
      whole("ab\n", 0),
      whole("cdef\n", 3),
      whole("gh\n", 8),
      whole("ijkl\n", 11),
      whole("m\n", 16),
      whole("no", 18),
    ]);
    expect(s.end()).toEqual([]);
  });

  it("gives a chunk's whole lines, when no line straddles into it, as one block", () => {
    const s = new BlockSplitter(MIN_LINE);
    expect(s.push(Buffer.from("p\nq\nr")).map(view)).toEqual([whole("p\nq\n", 0)]);
    expect(s.push(Buffer.from("\ns\nt\n")).map(view)).toEqual([whole("r\n", 4), whole("s\nt\n", 6)]);
  });

  it("cuts a line only once it is longer than the cut size", () => {
    const s = new BlockSplitter(MIN_LINE);
    expect(s.push(Buffer.from("-".repeat(MIN_LINE)))).toEqual([]);
    expect(s.push(Buffer.from("-")).map((b) => [b.base, b.bytes.length])).toEqual([[0, MIN_LINE + 1]]);
  });

  it("gives a chunk's whole lines as a view of it, and copies the partial line it keeps", () => {
    const s = new BlockSplitter(MIN_LINE);
    const chunk = Buffer.from("one\ntwo\nthr");
    const [block] = s.push(chunk);
    expect(block.bytes.buffer).toBe(chunk.buffer);
    chunk.fill(0x41);
    expect(s.push(Buffer.from("ee\n")).map(view)).toEqual([whole("three\n", 8)]);
  });

  it("takes a Uint8Array as well as a Buffer", () => {
    const s = new BlockSplitter(MIN_LINE);
    const bytes = new TextEncoder().encode("xx\nyy\n");
    expect(s.push(bytes.subarray(3)).map(view)).toEqual([whole("yy\n", 0)]);
  });

  it("cuts a line longer than the cut size, the overlap split between the blocks at its middle", () => {
    const s = new BlockSplitter(MIN_LINE);
    // Spaces are outside base64, so the overlap starts exactly CUT_OVERLAP bytes before the cut.
    const first = `a\n${"- ".repeat(MIN_LINE / 2 + 10)}`;
    // A chunk's partial last line is only kept; the next chunk without a newline makes it cut.
    expect(s.push(Buffer.from(first.slice(0, 100))).map(view)).toEqual([whole("a\n", 0)]);
    const [cut] = s.push(Buffer.from(first.slice(100)));
    const lineLength = first.length - 2;
    expect(view(cut)).toEqual({ ...whole(first.slice(2), 2), ownTo: lineLength - CUT_OVERLAP / 2 });
    const [next] = s.push(Buffer.from("end\n"));
    expect(view(next)).toEqual({
      text: `${first.slice(first.length - CUT_OVERLAP)}end\n`,
      base: first.length - CUT_OVERLAP,
      fresh: CUT_OVERLAP,
      ownFrom: CUT_OVERLAP / 2,
      ownTo: CUT_OVERLAP + 4,
      loRunEncoding: null,
    });
    // Nothing is owned twice, nothing by neither.
    expect(cut.base + cut.ownTo).toBe(next.base + next.ownFrom);
  });

  it("cuts again and again a line that keeps coming, each overlap owned once", () => {
    const s = new BlockSplitter(MIN_LINE);
    const blocks: Block[] = [];
    for (let i = 0; i < 12; i++) blocks.push(...s.push(Buffer.from("x ".repeat(MIN_LINE / 4))));
    blocks.push(...s.push(Buffer.from("\n")), ...s.end());
    expect(blocks.length).toBeGreaterThan(3);
    for (let i = 1; i < blocks.length; i++) {
      const [a, b] = [blocks[i - 1], blocks[i]];
      expect(a.base + a.ownTo).toBe(b.base + b.ownFrom);
      expect(b.fresh).toBe(a.base + a.bytes.length - b.base);
      expect(b.bytes.length).toBeLessThanOrEqual(MIN_LINE + MIN_LINE / 2);
    }
    const last = blocks.at(-1) as Block;
    expect(last.ownTo).toBe(last.bytes.length);
    expect(last.base + last.bytes.length).toBe(12 * (MIN_LINE / 2) + 1);
  });

  it("inside a base64 run, starts the overlap a whole number of groups from the run's start", () => {
    for (const shift of [0, 1, 2, 3]) {
      const s = new BlockSplitter(MIN_LINE);
      const run = "QUJD".repeat(MIN_LINE / 4 + 4);
      const line = `${"#".repeat(5 + shift)}${run}`;
      const [cut] = s.push(Buffer.from(line));
      const [next] = s.end();
      const runStart = 5 + shift;
      expect((next.base - runStart) % 4, `shift ${shift}`).toBe(0);
      expect(line.length - next.base).toBeGreaterThanOrEqual(CUT_OVERLAP);
      expect(line.length - next.base).toBeLessThan(CUT_OVERLAP + 4);
      expect(next.fresh).toBe(line.length - next.base);
      expect(next.loRunEncoding).toBe("base64");
      expect(cut.loRunEncoding).toBeNull();
    }
  });

  it("tells the block after a cut how the run it starts inside is encoded, through many cuts", () => {
    const s = new BlockSplitter(MIN_LINE);
    const blocks = s.push(Buffer.from("Authorization: Basic \t QUJD"));
    for (let i = 0; i < 8; i++) blocks.push(...s.push(Buffer.from("QUJD".repeat(MIN_LINE / 8))));
    blocks.push(...s.push(Buffer.from(" tail\n")));
    expect(blocks.length).toBeGreaterThan(3);
    expect(blocks[0].loRunEncoding).toBeNull();
    for (const b of blocks.slice(1)) expect(b.loRunEncoding).toBe("basic-auth");
    // A run that starts after the cut's overlap start is judged from inside the next block: none is passed.
    const t = new BlockSplitter(MIN_LINE);
    const [, after] = [...t.push(Buffer.from(`${"- ".repeat(MIN_LINE / 2 + 8)}`)), ...t.end()];
    expect(after.loRunEncoding).toBeNull();
  });

  it("a second cut inside a Basic run that started after the first cut: the block after it is told basic-auth", () => {
    const s = new BlockSplitter(MIN_LINE);
    const blocks = s.push(Buffer.from("- ".repeat(MIN_LINE / 2 + 8)));
    blocks.push(...s.push(Buffer.from(`${"- ".repeat(MIN_LINE / 4)}Basic ${"QUJD".repeat(MIN_LINE / 8)}`)));
    blocks.push(...s.end());
    expect(blocks.map((b) => [b.fresh > 0, b.loRunEncoding])).toEqual([
      [false, null],
      [true, null],
      [true, "basic-auth"],
    ]);
  });

  it("by default reads no diff: a `+` opening a giant line is part of the run", () => {
    const s = new BlockSplitter(MIN_LINE);
    s.push(Buffer.from(`+${"QUJD".repeat(MIN_LINE / 4 + 4)}`));
    const [next] = s.end();
    expect(next.base % 4).toBe(0);
  });

  it("in a diff, the `+` opening a giant added line is not part of the run the overlap aligns to", () => {
    for (const diffLines of [true, false]) {
      const s = new BlockSplitter(MIN_LINE, diffLines);
      const run = "QUJD".repeat(MIN_LINE / 4 + 4);
      const [cut] = s.push(Buffer.from(`+${run}`));
      const [next] = s.end();
      expect(cut.base).toBe(0);
      // With the marker the run starts at 1; without it at 0.
      expect((next.base - (diffLines ? 1 : 0)) % 4).toBe(0);
    }
  });
});
