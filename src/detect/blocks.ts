/**
 * Cuts a byte stream into blocks of whole lines without copying them: a block is a view of the chunk it
 * came from, and only the line that straddles two chunks is copied (so no view of a chunk outlives `push`).
 * A line longer than `maxLine` is cut anyway; the next block then starts with an overlap of the last
 * `CUT_OVERLAP` bytes. The two blocks split the overlap at its middle: the block before the cut owns the
 * tokens that start before it, the block after owns the rest. Either way the owner holds at least
 * `CUT_OVERLAP / 2` bytes of context on both sides of the token, so it is judged (boundaries, `@` after a
 * URL userinfo, the long form) exactly as if the line had not been cut.
 */
import { BASE64 } from "./byte-classes.js";
import { base64Encoding } from "./codec/base64.js";

export interface Block {
  bytes: Buffer;
  /** Stream offset of `bytes[0]`. */
  base: number;
  /** Bytes before this index were already in the previous block (the overlap after a cut). */
  fresh: number;
  /** The block owns (reports) the tokens whose offset is in `[ownFrom, ownTo)`; the rest are its neighbours'. */
  ownFrom: number;
  ownTo: number;
  /**
   * When the block starts inside a base64 run that began before it (a cut inside a giant base64 line),
   * how that run is encoded, as judged from the run's real start; else null.
   */
  loRunEncoding: "basic-auth" | "base64" | null;
}

const NEWLINE = 0x0a;
const PLUS = 0x2b;
export const DEFAULT_MAX_LINE = 8 * 1024 * 1024;
/**
 * Twice the context a token needs on either side: an 88-character key in base64 inside base64 spans ~160
 * bytes, and a URL userinfo is looked for up to 515 bytes before the key.
 */
export const CUT_OVERLAP = 4096;
/** Where, in the overlap, ownership passes from the block before the cut to the block after it. */
const OWN_SPLIT = CUT_OVERLAP / 2;

export class BlockSplitter {
  /** The partial last line: pieces and their total length. */
  private tail: Buffer[] = [];
  private tailLength = 0;
  /** How many bytes at the start of the tail are overlap already scanned. */
  private tailOverlap = 0;
  /** Stream offset of the tail's first byte. */
  private tailBase = 0;
  /** Where, in the tail, its owned part starts (0 unless the tail starts with an overlap). */
  private tailOwnFrom = 0;
  /** The encoding of the base64 run the tail starts inside, if it starts with an overlap inside one. */
  private tailRunEncoding: Block["loRunEncoding"] = null;

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
    if (last + 1 > from) blocks.push(wholeLines(c.subarray(from, last + 1), chunkBase + from));
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
    const block = this.tailBlock(bytes, bytes.length);
    this.tailBase += this.tailLength;
    this.tail = [];
    this.tailLength = 0;
    this.tailOverlap = 0;
    this.tailOwnFrom = 0;
    this.tailRunEncoding = null;
    return block;
  }

  private tailBlock(bytes: Buffer, ownTo: number): Block {
    return {
      bytes,
      base: this.tailBase,
      fresh: this.tailOverlap,
      ownFrom: this.tailOwnFrom,
      ownTo,
      loRunEncoding: this.tailRunEncoding,
    };
  }

  /** Emits the giant line so far and keeps its last bytes as the overlap of the next block. */
  private cutGiantLine(): Block {
    const bytes = Buffer.concat(this.tail, this.tailLength);
    const split = bytes.length - OWN_SPLIT;
    const block = this.tailBlock(bytes, split);
    const plusOpensLine = this.diffLines && block.fresh === 0;
    const [keepFrom, runEncoding] = overlapAt(block, bytes.length - CUT_OVERLAP, plusOpensLine);
    this.tailRunEncoding = runEncoding;
    // Copy the overlap so the giant buffer can be freed.
    const overlap = Buffer.from(bytes.subarray(keepFrom));
    this.tail = [overlap];
    this.tailBase += keepFrom;
    this.tailLength = overlap.length;
    this.tailOverlap = overlap.length;
    this.tailOwnFrom = split - keepFrom;
    return block;
  }
}

function wholeLines(bytes: Buffer, base: number): Block {
  return { bytes, base, fresh: 0, ownFrom: 0, ownTo: bytes.length, loRunEncoding: null };
}

/**
 * Where to start the overlap near `at`, and how the base64 run there (if any) is encoded. Inside a base64
 * run the overlap starts a whole number of 4-character groups from the run's start, so decoding it yields
 * the same bytes as decoding the run; the run's encoding (`Basic ` before it) is judged from its real
 * start, which the next block cannot see (or, when the run began before `block`, is what `block` was told).
 */
function overlapAt(block: Block, at: number, plusOpensLine: boolean): [number, Block["loRunEncoding"]] {
  const { bytes } = block;
  if (BASE64[bytes[at]] === 0) return [at, null];
  let runStart = at;
  while (runStart > 0 && BASE64[bytes[runStart - 1]] === 1) runStart--;
  const continued = runStart === 0 && block.fresh > 0;
  if (plusOpensLine && runStart === 0 && bytes[0] === PLUS) runStart = 1;
  const keepFrom = runStart + Math.floor((at - runStart) / 4) * 4;
  return [keepFrom, continued ? block.loRunEncoding : base64Encoding(bytes, runStart, 0)];
}
