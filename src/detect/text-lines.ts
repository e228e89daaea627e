/**
 * Line and column of offsets in streamed plain text. Newlines are counted only up to a finding; blocks
 * after the last finding wait (up to `retainCap` bytes) and are counted only if another finding follows.
 */
import type { Block } from "./blocks.js";

const NEWLINE = 0x0a;
export class TextLocator {
  /** Number of the line that starts at stream offset `lineStart`. */
  private line = 1;
  private lineStart = 0;
  /** Blocks (from `from`) whose newlines are not counted yet. */
  private pending: { bytes: Buffer; from: number; base: number }[] = [];
  private pendingLength = 0;

  constructor(private readonly retainCap: number) {}

  /** Line and column for each stream offset (sorted) inside `block`. */
  locate(block: Block, offsets: readonly number[]): { line: number; column: number }[] {
    const { bytes, base } = block;
    let from = block.fresh;
    const out: { line: number; column: number }[] = [];
    if (offsets.length > 0) this.flush();
    for (const g of offsets) {
      const at = Math.max(g - base, from);
      from = this.count(bytes, base, from, at);
      out.push({ line: this.line, column: g - this.lineStart + 1 });
    }
    if (from < bytes.length) {
      // A copy: the caller may reuse the chunk's memory once push returns.
      this.pending.push({ bytes: Buffer.from(bytes.subarray(from)), from: 0, base: base + from });
      this.pendingLength += bytes.length - from;
      if (this.pendingLength > this.retainCap) this.flush();
    }
    return out;
  }

  private flush(): void {
    for (const p of this.pending) this.count(p.bytes, p.base, p.from, p.bytes.length);
    this.pending = [];
    this.pendingLength = 0;
  }

  /** Counts the newlines in `bytes[from, to)`; returns `to`. */
  private count(bytes: Buffer, base: number, from: number, to: number): number {
    // Searched through a view that ends at `to`: `indexOf` on the whole block would look on to its end at
    // every finding, which on a giant line with many findings is quadratic.
    const upTo = bytes.subarray(0, to);
    let k = from;
    while (k < to) {
      const nl = upTo.indexOf(NEWLINE, k);
      if (nl === -1) break;
      this.line++;
      this.lineStart = base + nl + 1;
      k = nl + 1;
    }
    return to;
  }
}
