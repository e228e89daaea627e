/**
 * Tells, for offsets in a streamed unified diff, whether each lies on an added line and where (commit,
 * path, new-file line, column). Lines are read only where a finding needs them. Between findings the
 * locator keeps just the bytes since the last hunk header and re-anchors at the next one, taking the path
 * from the `+++` line that opens a file's first hunk, so a diff with no findings is barely looked at.
 * (The needles are `@@ -` and `commit `: searching for anything that starts with `\n` runs at memchr-per-line
 * speed.) Anchors are looked for backwards with forward searches over growing windows, so the cost is the
 * distance to the anchor at memchr speed.
 * A hunk longer than `retainCap` is read line by line as it is dropped, which bounds memory.
 */
import type { Block } from "./blocks.js";
import { matchesAt } from "./byte-classes.js";
import { DiffReader, type LineInfo } from "./diff-lines.js";

const NEWLINE = 0x0a;
const HUNK = Buffer.from("@@ -", "latin1");
/** Searched without its `\n`: memchr on `c` beats memchr on every newline by twice. */
const COMMIT = Buffer.from("commit ", "latin1");
const PLUS_LINE = Buffer.from("+++ ", "latin1");
const MINUS_LINE = Buffer.from("--- ", "latin1");
/** File header lines longer than this are not looked back at. */
const MAX_HEADER_LINE = 4096;

export const DEFAULT_RETAIN_CAP = 32 * 1024 * 1024;

interface Retained {
  bytes: Buffer;
  base: number;
  from: number;
}

/** The commit and path in force at some point of the stream. */
interface Context {
  commit: string | null;
  path: string | null;
}

export class DiffLocator {
  /** Stands at the start of what is retained (an anchor), with its state exact there. */
  private readonly reader: DiffReader;
  private retained: Retained[] = [];
  private retainedLength = 0;
  /**
   * The commit and path a later hunk inherits when no file header of its own precedes it: the last
   * anchor's, or, when a commit line followed it, that commit's with no path.
   */
  private tail: Context;
  /** Set when the stream is `git log -p` output: only then are `commit` lines looked for. */
  private commitLines: boolean | null = null;
  /** The last lines of the previous block: a `+++` line there may head a hunk at the start of the next. */
  private previousTail: Buffer = Buffer.alloc(0);

  constructor(
    context: { commit?: string | null; path?: string | null } = {},
    private readonly retainCap = DEFAULT_RETAIN_CAP,
  ) {
    this.reader = new DiffReader(context);
    this.tail = { commit: this.reader.commit, path: this.reader.path };
  }

  /**
   * `offsets` are stream offsets inside `block`, sorted. Returns, per offset, the line it is on when that
   * is an added line, else null.
   */
  locate(block: Block, offsets: readonly number[]): (LineInfo | null)[] {
    const { bytes, base, fresh } = block;
    this.commitLines ??= lastLineStarting(bytes, COMMIT, 0, bytes.length) !== -1;
    const out: (LineInfo | null)[] = [];
    let pos = fresh;
    let openAtStart: LineInfo | null | undefined;
    let current = null as { start: number; end: number; info: LineInfo } | null;
    for (const g of offsets) {
      const i = g - base;
      let info: LineInfo | null;
      if (current && i >= current.start && i < current.end) info = current.info;
      else if (i < fresh) {
        // In the overlap after a giant line was cut: on the line that was open when the last block ended.
        if (openAtStart === undefined) {
          this.settle();
          openAtStart = this.reader.openLineInfo;
        }
        info = openAtStart;
      } else {
        const lineStart = Math.max(pos, lastNewline(bytes, i - 1) + 1);
        // Jump to the last hunk header at or before the finding's line rather than read everything before it.
        const hunk = lastLineStarting(bytes, HUNK, pos, lineStart + 1);
        if (hunk >= pos && (hunk > pos || this.retained.length > 0)) {
          this.anchorAt(bytes, pos, hunk);
          pos = hunk;
        } else this.settle();
        this.reader.consume(bytes, base, pos, lineStart);
        const lineEnd = endOfLine(bytes, i);
        let got = null as LineInfo | null;
        this.reader.consume(bytes, base, lineStart, lineEnd, (_s, _e, li) => {
          got ??= li;
        });
        info = got;
        current = got && { start: lineStart, end: lineEnd, info: got };
        pos = lineEnd;
        this.tail = { commit: this.reader.commit, path: this.reader.path };
      }
      out.push(info?.added ? info : null);
    }
    this.keep(bytes, base, pos);
    return out;
  }

  /** Reads everything retained, so the reader stands exactly at its end. */
  private settle(): void {
    for (const r of this.retained) this.reader.consume(r.bytes, r.base, r.from, r.bytes.length);
    this.retained = [];
    this.retainedLength = 0;
    this.tail = { commit: this.reader.commit, path: this.reader.path };
  }

  /** Drops what is retained and stands the reader just before the hunk header at `hunk`. */
  private anchorAt(bytes: Buffer, pos: number, hunk: number): void {
    const { commit, path } = this.contextAt(bytes, pos, hunk);
    this.reader.reset(commit, path);
    this.retained = [];
    this.retainedLength = 0;
    this.tail = { commit, path };
  }

  /** Keeps `bytes[pos..]` from its last hunk header on, or all of it when it has none. */
  private keep(bytes: Buffer, base: number, pos: number): void {
    const hunk = lastLineStarting(bytes, HUNK, pos, bytes.length);
    let from = pos;
    if (hunk >= 0) {
      this.anchorAt(bytes, pos, hunk);
      from = hunk;
    }
    if (from < bytes.length) {
      // Copy (a hunk's tail is usually small): the caller may reuse the chunk's memory once push returns.
      this.retained.push({ bytes: Buffer.from(bytes.subarray(from)), base: base + from, from: 0 });
      this.retainedLength += bytes.length - from;
      // A commit line after the last hunk header starts a new context for the hunks that follow.
      const commitLine = this.commitLines ? lastLineStarting(bytes, COMMIT, from, bytes.length) : -1;
      if (commitLine >= 0) this.tail = { commit: readLine(bytes, commitLine).commit, path: null };
    }
    this.previousTail = lastLines(bytes, this.previousTail);
    if (this.retainedLength > this.retainCap) this.settle();
  }

  /**
   * Commit and path in force at the hunk header starting at `hunk`: from a commit line and a file header
   * in `bytes[pos, hunk)` when there are some, else inherited from before `pos`.
   */
  private contextAt(bytes: Buffer, pos: number, hunk: number): Context {
    let commit = this.tail.commit;
    let path = this.tail.path;
    const commitLine = this.commitLines ? lastLineStarting(bytes, COMMIT, pos, hunk) : -1;
    if (commitLine >= 0) {
      commit = readLine(bytes, commitLine).commit;
      path = null; // until a file header says otherwise
    }
    // Walk back over this file's hunk headers to its first, which the `---` and `+++` lines precede.
    for (let h = hunk; h > commitLine && h >= pos; h = lastLineStarting(bytes, HUNK, pos, h)) {
      const [minus, plus] = twoLinesBefore(bytes, h, this.previousTail);
      if (plus && minus && matchesAt(plus, 0, PLUS_LINE) && matchesAt(minus, 0, MINUS_LINE)) {
        path = readLine(plus, 0, new DiffReader({ path: null })).path;
        break;
      }
    }
    return { commit, path };
  }
}

/** Header state after reading the one line at `at` (a `commit` or `+++` line). */
function readLine(bytes: Buffer, at: number, reader = new DiffReader()): DiffReader {
  reader.consume(bytes, 0, at, endOfLine(bytes, at));
  return reader;
}

/** The two lines before line `at` of `bytes`, reaching into the previous block's tail when needed. */
function twoLinesBefore(bytes: Buffer, at: number, previousTail: Buffer): [Buffer | null, Buffer | null] {
  const windowStart = Math.max(0, at - 2 * MAX_HEADER_LINE);
  const text: Buffer =
    windowStart > 0 ? bytes.subarray(windowStart, at) : Buffer.concat([previousTail, bytes.subarray(0, at)]);
  if (text.length === 0) return [null, null];
  const plusStart = lastNewline(text, text.length - 2) + 1;
  const plus = text.subarray(plusStart);
  if (plusStart === 0) return [null, windowStart > 0 ? null : plus];
  const minusStart = lastNewline(text, plusStart - 2) + 1;
  return [minusStart === 0 && windowStart > 0 ? null : text.subarray(minusStart, plusStart), plus];
}

/** The last two lines of a block (at most `2 * MAX_HEADER_LINE` bytes), copied. */
function lastLines(bytes: Buffer, previousTail: Buffer): Buffer {
  if (bytes.length >= 2 * MAX_HEADER_LINE)
    return Buffer.from(bytes.subarray(bytes.length - 2 * MAX_HEADER_LINE));
  const joined = Buffer.concat([previousTail, bytes]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - 2 * MAX_HEADER_LINE)));
}

/** Offset of the last `\n` at or before `at` (-1 when none; never searches from the end). */
function lastNewline(bytes: Buffer, at: number): number {
  return at < 0 ? -1 : bytes.lastIndexOf(NEWLINE, at);
}

function endOfLine(bytes: Buffer, at: number): number {
  const nl = bytes.indexOf(NEWLINE, at);
  return nl === -1 ? bytes.length : nl + 1;
}

/** Start of the last line in `bytes[from, to)` that begins with `text`; `from` must be a line start. */
function lastLineStarting(bytes: Buffer, text: Buffer, from: number, to: number): number {
  if (to - 2 < 0 || to <= from) return -1;
  for (let end = to; end > from; ) {
    const k = lastIndexIn(bytes, text, from, end);
    if (k === -1) return -1;
    if (k === 0 || bytes[k - 1] === NEWLINE) return k;
    end = k;
  }
  return -1;
}

/** Smallest window searched back from the end, growing fourfold: most anchors are a few hundred bytes back. */
const FIRST_WINDOW = 2048;

/**
 * Offset of the last `text` starting in `bytes[from, to)`, or -1. Searches forward over windows that grow
 * back from `to`: V8's `lastIndexOf` is a byte-by-byte backward search, its `indexOf` a memchr-class one,
 * so this costs about the distance to the match at forward speed.
 */
function lastIndexIn(bytes: Buffer, text: Buffer, from: number, to: number): number {
  for (let end = to, size = FIRST_WINDOW; end > from; end -= size, size *= 4) {
    const start = Math.max(from, end - size);
    // The window reaches past `end` by the needle's length, so a match starting before `end` is whole in it.
    const window = bytes.subarray(start, Math.min(bytes.length, end + text.length - 1));
    let last = -1;
    for (let k = window.indexOf(text); k !== -1 && start + k < end; k = window.indexOf(text, k + 1)) last = k;
    if (last !== -1) return start + last;
    if (start === from) break;
  }
  return -1;
}
