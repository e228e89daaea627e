/**
 * Cuts a byte stream into blocks of whole lines without copying them: a block is a view of the chunk it
 * came from, and only the line that straddles two chunks is copied (so no view of a chunk outlives `push`). A line longer than `maxLine` is cut
 * anyway; the next block then starts with an overlap of the last bytes so a token across the cut is
 * still whole in one block (the caller drops what the overlap finds twice).
 */
import { BASE64 } from "./byte-classes.js";

export interface Block {
  bytes: Buffer;
  /** Stream offset of `bytes[0]`. */
  base: number;
  /** Bytes before this index were already in the previous block (the overlap after a cut). */
  fresh: number;
}

const NEWLINE = 0x0a;
export const DEFAULT_MAX_LINE = 8 * 1024 * 1024;
/** Longer than any encoded token (an 88-character key in base64 inside base64 is ~160 bytes). */
export const CUT_OVERLAP = 4096;

export class BlockSplitter {
  /** The partial last line: pieces and their total length. */
  private tail: Buffer[] = [];
  private tailLength = 0;
  /** How many bytes at the start of the tail are overlap already scanned. */
  private tailOverlap = 0;
  /** Stream offset of the tail's first byte. */
  private tailBase = 0;

  /** With `diffLines`, a `+` opening a line is a diff marker, not part of a base64 run. */
  constructor(
    private readonly maxLine = DEFAULT_MAX_LINE,
    private readonly diffLines = false,
  ) {
    if (maxLine < CUT_OVERLAP * 4) throw new RangeError(`maxLine must be at least ${CUT_OVERLAP * 4}`);
  }

  push(chunk: Uint8Array): Block[] {
    if (chunk.length === 0) return [];
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const blocks: Block[] = [];
    const chunkBase = this.tailBase + this.tailLength;
    const first = c.indexOf(NEWLINE);
    if (first === -1) {
      this.appendTail(Buffer.from(c));
      if (this.tailLength > this.maxLine) blocks.push(this.cutGiantLine());
      return blocks;
    }
    let from = 0;
    if (this.tailLength > 0) {
      // Only the line that straddles the two chunks is copied.
      this.appendTail(c.subarray(0, first + 1));
      blocks.push(this.takeTail());
      from = first + 1;
    }
    const last = c.lastIndexOf(NEWLINE);
    if (last + 1 > from) blocks.push({ bytes: c.subarray(from, last + 1), base: chunkBase + from, fresh: 0 });
    this.tailBase = chunkBase + last + 1;
    if (last + 1 < c.length) this.appendTail(Buffer.from(c.subarray(last + 1)));
    return blocks;
  }

  end(): Block[] {
    return this.tailLength > 0 ? [this.takeTail()] : [];
  }

  private appendTail(piece: Buffer): void {
    this.tail.push(piece);
    this.tailLength += piece.length;
  }

  private takeTail(): Block {
    const bytes = this.tail.length === 1 ? this.tail[0] : Buffer.concat(this.tail, this.tailLength);
    const block = { bytes, base: this.tailBase, fresh: this.tailOverlap };
    this.tailBase += this.tailLength;
    this.tail = [];
    this.tailLength = 0;
    this.tailOverlap = 0;
    return block;
  }

  /** Emits the giant line so far and keeps its last bytes as the overlap of the next block. */
  private cutGiantLine(): Block {
    const bytes = Buffer.concat(this.tail, this.tailLength);
    const block = { bytes, base: this.tailBase, fresh: this.tailOverlap };
    const keepFrom = overlapStart(bytes, bytes.length - CUT_OVERLAP, this.diffLines && block.fresh === 0);
    // Copy the overlap so the giant buffer can be freed.
    const overlap = Buffer.from(bytes.subarray(keepFrom));
    this.tail = [overlap];
    this.tailBase += keepFrom;
    this.tailLength = overlap.length;
    this.tailOverlap = overlap.length;
    return block;
  }
}

/**
 * Where to start the overlap near `at`: inside a base64 run, a whole number of 4-character groups from
 * the run's start, so decoding the overlap yields the same bytes as decoding the run.
 */
function overlapStart(bytes: Buffer, at: number, plusOpensLine: boolean): number {
  if (BASE64[bytes[at]] === 0) return at;
  let runStart = at;
  while (runStart > 0 && BASE64[bytes[runStart - 1]] === 1) runStart--;
  if (plusOpensLine && runStart === 0 && bytes[0] === 0x2b) runStart = 1;
  return runStart + Math.floor((at - runStart) / 4) * 4;
}
