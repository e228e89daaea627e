/**
 * TextLocator on hand-made blocks: line and column of stream offsets across blocks, blocks kept uncounted
 * until a finding follows (or the cap is passed), the overlap after a cut, and work linear in a giant line.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Block } from "../../src/detect/blocks.js";
import { TextLocator } from "../../src/detect/text-lines.js";

/** Consecutive blocks of `texts`, as the splitter would give them (no cuts). */
function blocks(...texts: string[]): Block[] {
  let base = 0;
  return texts.map((t) => {
    const bytes = Buffer.from(t, "latin1");
    const block = { bytes, base, fresh: 0, ownFrom: 0, ownTo: bytes.length, loRunEncoding: null };
    base += bytes.length;
    return block;
  });
}

/** Where `needle` (each occurrence) is in the whole stream. */
function offsetsOf(stream: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = stream.indexOf(needle); i !== -1; i = stream.indexOf(needle, i + 1)) out.push(i);
  return out;
}

describe("TextLocator", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("gives line and column of offsets in one block", () => {
    const text = "ab\nXcd\n\nefX\nX";
    const [b] = blocks(text);
    expect(new TextLocator(1 << 20).locate(b, offsetsOf(text, "X"))).toEqual([
      { line: 2, column: 1 },
      { line: 4, column: 3 },
      { line: 5, column: 1 },
    ]);
  });

  it("counts the lines of blocks without findings once a later block has one", () => {
    const texts = ["one\ntwo\n", "three\nfour\n", "five\n", "sixX\n"];
    const bs = blocks(...texts);
    const locator = new TextLocator(1 << 20);
    for (const b of bs.slice(0, 3)) expect(locator.locate(b, [])).toEqual([]);
    const at = texts.slice(0, 3).join("").length + 3;
    expect(locator.locate(bs[3], [at])).toEqual([{ line: 6, column: 4 }]);
  });

  it("counts the lines after the last finding of a block before the next block's findings", () => {
    const texts = ["aX\nb\nc\n", "dd\neX\n"];
    const bs = blocks(...texts);
    const locator = new TextLocator(1 << 20);
    expect(locator.locate(bs[0], [1])).toEqual([{ line: 1, column: 2 }]);
    expect(locator.locate(bs[1], [texts[0].length + 4])).toEqual([{ line: 5, column: 2 }]);
  });

  it("past the cap, counts what it kept and keeps counting right", () => {
    const texts = ["1\n2\n3\n", "4\n5\n", "6\n7\n8\n", "9X\n"];
    const bs = blocks(...texts);
    // A cap of 5 bytes: the second block passes it, so the first two are counted eagerly.
    const locator = new TextLocator(5);
    for (const b of bs.slice(0, 3)) locator.locate(b, []);
    expect(locator.locate(bs[3], [texts.slice(0, 3).join("").length + 1])).toEqual([{ line: 9, column: 2 }]);
  });

  it("keeps no view of a block's memory: the caller may overwrite it", () => {
    const [a, b] = blocks("x\ny\n", "zX\n");
    const locator = new TextLocator(1 << 20);
    locator.locate(a, []);
    a.bytes.fill(0x41); // no newlines left in the caller's buffer
    expect(locator.locate(b, [5])).toEqual([{ line: 3, column: 2 }]);
  });

  it("does not count the overlap after a cut twice", () => {
    // A giant line "aaaa…" cut: the second block repeats the first one's last 4 bytes, then a newline.
    const first = { ...blocks("l1\naaaaaaaa")[0], ownTo: 8 };
    const second = {
      bytes: Buffer.from("aaaa\nX", "latin1"),
      base: 7,
      fresh: 4,
      ownFrom: 2,
      ownTo: 6,
      loRunEncoding: null,
    };
    const locator = new TextLocator(1 << 20);
    expect(locator.locate(first, [3])).toEqual([{ line: 2, column: 1 }]);
    // An offset inside the overlap (already counted) and one after the newline.
    expect(locator.locate(second, [9, 12])).toEqual([
      { line: 2, column: 7 },
      { line: 3, column: 1 },
    ]);
  });

  it("on a giant line with many findings, looks at each byte about once (linear, not quadratic)", () => {
    // 4 MiB without a newline, a finding every 256 bytes, then one more line.
    const size = 4 * 1024 * 1024;
    const bytes = Buffer.alloc(size + 2, 0x61);
    bytes[size] = 0x0a;
    const block = { bytes, base: 0, fresh: 0, ownFrom: 0, ownTo: bytes.length, loRunEncoding: null };
    const offsets = Array.from({ length: size / 256 }, (_, i) => i * 256);
    offsets.push(size + 1);
    // Work = bytes a newline search may look at: from where it starts to the end of the buffer searched.
    const indexOf = vi.spyOn(Buffer.prototype, "indexOf");
    const found = new TextLocator(1 << 20).locate(block, offsets);
    let examined = 0;
    indexOf.mock.calls.forEach(([value, from], k) => {
      const searched = indexOf.mock.contexts[k] as Buffer;
      if (value === 0x0a) examined += searched.length - (typeof from === "number" ? from : 0);
    });
    vi.restoreAllMocks();
    expect(found.at(-2)).toEqual({ line: 1, column: size - 256 + 1 });
    expect(found.at(-1)).toEqual({ line: 2, column: 1 });
    // Searching to the buffer's end at every finding would look at ~8 GiB; linear is ~4 MiB.
    expect(examined).toBeGreaterThan(0);
    expect(examined).toBeLessThan(2 * bytes.length);
  });
});
