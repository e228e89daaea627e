/**
 * Tells, for offsets in a streamed unified diff, whether each lies on an added line and where (commit,
 * path, new-file line, column). Lines are read only where a finding needs them. Between findings the
 * locator keeps just the bytes since the last hunk header and re-anchors at the next one, taking the path
 * from the `+++` line that opens a file's first hunk, so a diff with no findings is barely looked at.
 * (The needle is `@@ -`: searching for anything that starts with `\n` runs at memchr-per-line speed.)
 * A hunk longer than `retainCap` is read line by line as it is dropped, which bounds memory.
 */
import type { Block } from "./blocks.js";
import { DiffReader, type LineInfo } from "./diff-lines.js";

const NEWLINE = 0x0a;
const HUNK = Buffer.from("@@ -", "latin1");
const COMMIT = Buffer.from("\ncommit ", "latin1");
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

export class DiffLocator {
  private readonly reader: DiffReader;
  private retained: Retained[] = [];
  private retainedLength = 0;
  /** True when the reader's commit and path hold at the end of what is retained. */
  private contextExact = true;
  /** Set when the stream is `git log -p` output: only then are `commit` lines looked for. */
  private commitLines: boolean | null = null;
  /** The last lines of the previous block: a `+++` line there may head a hunk at the start of the next. */
  private previousTail: Buffer = Buffer.alloc(0);

  constructor(
    context: { commit?: string | null; path?: string | null } = {},
    private readonly retainCap = DEFAULT_RETAIN_CAP,
  ) {
    this.reader = new DiffReader(context);
  }

  /**
   * `offsets` are stream offsets inside `block`, sorted. Returns, per offset, the line it is on when that
   * is an added line, else null.
   */
  locate(block: Block, offsets: readonly number[]): (LineInfo | null)[] {
    const { bytes, base, fresh } = block;
    this.commitLines ??= startsWith(bytes, 0, COMMIT.subarray(1)) || bytes.indexOf(COMMIT) !== -1;
    const out: (LineInfo | null)[] = [];
    let pos = fresh;
    if (offsets.length > 0) {
      this.settle();
      const openAtStart = this.reader.openLineInfo;
      let current = null as { start: number; end: number; info: LineInfo } | null;
      for (const g of offsets) {
        const i = g - base;
        let info: LineInfo | null;
        if (current && i >= current.start && i < current.end) info = current.info;
        else if (i < fresh) info = openAtStart;
        else {
          const lineStart = Math.max(pos, lastNewline(bytes, i - 1) + 1);
          this.reader.consume(bytes, base, pos, lineStart);
          const lineEnd = endOfLine(bytes, i);
          let got = null as LineInfo | null;
          this.reader.consume(bytes, base, lineStart, lineEnd, (_s, _e, li) => {
            got ??= li;
          });
          info = got;
          current = got && { start: lineStart, end: lineEnd, info: got };
          pos = lineEnd;
        }
        out.push(info?.added ? info : null);
      }
    }
    this.keep(bytes, base, pos);
    return out;
  }

  /** Reads everything retained, so the reader stands exactly at its end. */
  private settle(): void {
    for (const r of this.retained) this.reader.consume(r.bytes, r.base, r.from, r.bytes.length);
    this.retained = [];
    this.retainedLength = 0;
    this.contextExact = true;
  }

  /** Keeps `bytes[pos..]` from its last hunk header on, or all of it when it has none. */
  private keep(bytes: Buffer, base: number, pos: number): void {
    const anchor = lastLineStarting(bytes, HUNK, pos, bytes.length);
    if (anchor >= 0) {
      const { commit, path } = this.contextAt(bytes, base, pos, anchor);
      this.reader.reset(commit, path);
      // Copy: the anchor's tail is usually small, and the block it came from can then be freed.
      this.retained = [{ bytes: Buffer.from(bytes.subarray(anchor)), base: base + anchor, from: 0 }];
      this.retainedLength = bytes.length - anchor;
    } else if (pos < bytes.length) {
      this.retained.push({ bytes, base, from: pos });
      this.retainedLength += bytes.length - pos;
    }
    // Without commit lines, what is retained cannot change the context of a later hunk that no `+++`
    // line precedes (a file header is always right before its first hunk). A commit line could.
    if (this.commitLines && pos < bytes.length) this.contextExact = false;
    this.previousTail = lastLines(bytes, this.previousTail);
    if (this.retainedLength > this.retainCap) this.settle();
  }

  /** Commit and path in force at the hunk header starting at `hunk` (`pos`: where unread bytes start). */
  private contextAt(
    bytes: Buffer,
    base: number,
    pos: number,
    hunk: number,
  ): { commit: string | null; path: string | null } {
    let commit: string | null | undefined;
    let path: string | null | undefined;
    let commitLine = -1;
    if (this.commitLines) {
      commitLine = lastLineStarting(bytes, COMMIT, pos, hunk);
      if (commitLine >= 0) commit = readLine(bytes, commitLine).commit;
    }
    // Walk back over this file's hunk headers to its first, which the `---` and `+++` lines precede.
    for (let h = hunk; h > commitLine && h >= pos; h = lastLineStarting(bytes, HUNK, pos, h)) {
      const [minus, plus] = twoLinesBefore(bytes, h, this.previousTail);
      if (plus && minus && startsWith(plus, 0, PLUS_LINE) && startsWith(minus, 0, MINUS_LINE)) {
        path = readLine(plus, 0, new DiffReader({ path: null })).path;
        break;
      }
    }
    if (path === undefined && commitLine >= 0) path = null; // a hunk with no file header after its commit
    if (commit === undefined || path === undefined) {
      if (!this.contextExact) {
        this.settle();
        this.reader.consume(bytes, base, pos, hunk);
      }
      commit ??= this.reader.commit;
      path ??= this.reader.path;
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

function startsWith(bytes: Buffer, at: number, text: Buffer): boolean {
  if (at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text[i]) return false;
  return true;
}

/** Offset of the last `\n` at or before `at` (-1 when none; never searches from the end). */
function lastNewline(bytes: Buffer, at: number): number {
  return at < 0 ? -1 : bytes.lastIndexOf(NEWLINE, at);
}

function endOfLine(bytes: Buffer, at: number): number {
  const nl = bytes.indexOf(NEWLINE, at);
  return nl === -1 ? bytes.length : nl + 1;
}

/**
 * Start of the last line in `bytes[from, to)` that begins with `text`. A `text` given with a leading `\n`
 * is searched with it (for speed where the rest starts with a common byte); `from` must be a line start.
 */
function lastLineStarting(bytes: Buffer, text: Buffer, from: number, to: number): number {
  if (to - 2 < 0 || to <= from) return -1;
  if (text[0] === NEWLINE) {
    const k = bytes.lastIndexOf(text, to - 2);
    if (k >= from) return k + 1;
    const bare = text.subarray(1);
    return (from === 0 || bytes[from - 1] === NEWLINE) && startsWith(bytes, from, bare) ? from : -1;
  }
  for (
    let k = bytes.lastIndexOf(text, to - 1);
    k >= from && k !== -1;
    k = k > 0 ? bytes.lastIndexOf(text, k - 1) : -1
  ) {
    if (k === 0 || bytes[k - 1] === NEWLINE) return k;
  }
  return -1;
}
