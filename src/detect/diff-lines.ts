/**
 * Reads the structure of a unified diff (`git diff`, `git log -p`, GitHub's hunk-only `patch`): which lines
 * are added, their number in the new file, and the path and commit they belong to. Hunk line counts decide
 * where a hunk ends, so an added line that happens to read `++ x` is never taken for a `+++` header.
 */

const PLUS = 0x2b;
const MINUS = 0x2d;
const SPACE = 0x20;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const CR = 0x0d;

interface Hunk {
  /** Number in the new file of the next added or context line. */
  newLine: number;
  oldLeft: number;
  newLeft: number;
}

export interface LineInfo {
  /** True when the line is an added line of a hunk. */
  added: boolean;
  /** 1-based number of the line in the new file (when added). */
  line: number;
  commit: string | null;
  path: string | null;
  /** Stream offset of the line's first content byte (after the `+` of an added line). */
  contentStart: number;
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const COMMIT_LINE = /^commit ([0-9a-f]{40}|[0-9a-f]{64})\b/;

/** C-style quoted git paths: `"b/sp\303\251cial"`. */
function unquoteGitPath(raw: string): string {
  if (!raw.startsWith('"') || !raw.endsWith('"') || raw.length < 2) return raw;
  const body = raw.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c !== BACKSLASH) {
      bytes.push(c);
      continue;
    }
    const next = body[++i];
    if (next >= "0" && next <= "7") {
      bytes.push(Number.parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else
      bytes.push(
        ({ n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11 } as Record<string, number>)[next] ??
          next.charCodeAt(0),
      );
  }
  return Buffer.from(bytes).toString("utf8");
}

/** The new-side path from a `+++ ` line's remainder: drops a `b/` prefix, a tab-and-date suffix, `/dev/null`. */
function pathFromPlusLine(rest: string): string | null {
  let p = rest;
  const tab = p.indexOf("\t");
  if (tab >= 0) p = p.slice(0, tab);
  p = unquoteGitPath(p.trimEnd());
  if (p === "/dev/null") return null;
  return p.startsWith("b/") ? p.slice(2) : p;
}

/** Parse state of a unified diff; consumes the stream a line, or part of a long line, at a time. */
export class DiffReader {
  commit: string | null;
  path: string | null;
  private hunk: Hunk | null = null;
  /** Set while inside a line that was cut (a giant line): what that line is. */
  private openLine: { added: boolean; line: number; contentStart: number } | null = null;

  constructor(context: { commit?: string | null; path?: string | null } = {}) {
    this.commit = context.commit ?? null;
    this.path = context.path ?? null;
  }

  /** Starts over at a known anchor: a `commit`, `diff --git` or `@@` line; the anchor line itself follows. */
  reset(commit: string | null, path: string | null): void {
    this.commit = commit;
    this.path = path;
    this.hunk = null;
    this.openLine = null;
  }

  /** True while the reader is inside a hunk (its line counts are not exhausted). */
  get inHunk(): boolean {
    return this.hunk !== null;
  }

  /** What the line cut at the end of the last `consume` is (when it was cut). */
  get openLineInfo(): LineInfo | null {
    const o = this.openLine;
    return (
      o && {
        added: o.added,
        line: o.line,
        commit: this.commit,
        path: this.path,
        contentStart: o.contentStart,
      }
    );
  }

  /**
   * Consumes `bytes[from, to)`, whose first byte is at stream offset `base + from`. `to` is just after a
   * `\n`, or anywhere inside a giant line that was cut. Calls `onLine` with each line (or piece) it reads.
   */
  consume(
    bytes: Buffer,
    base: number,
    from: number,
    to: number,
    onLine?: (start: number, end: number, info: LineInfo) => void,
  ): void {
    let s = from;
    while (s < to) {
      // A hunk with no old lines holds only added lines: count newlines, nothing else to read.
      if (!onLine && this.hunk !== null && this.hunk.oldLeft <= 0 && this.openLine === null) {
        s = this.skipAddedLines(bytes, s, to);
        if (s >= to) break;
      }
      const nl = bytes.indexOf(NEWLINE, s);
      const complete = nl !== -1 && nl < to;
      const e = complete ? nl : to;
      const info = this.consumeLine(bytes, base, s, e, complete, onLine !== undefined);
      if (onLine) onLine(s, e, info!);
      s = complete ? e + 1 : to;
    }
  }

  /** Steps over whole added lines of the current hunk (which has no old lines); returns where it stopped. */
  private skipAddedLines(bytes: Buffer, s: number, to: number): number {
    const hunk = this.hunk!;
    while (hunk.newLeft > 0) {
      const nl = bytes.indexOf(NEWLINE, s);
      if (nl === -1 || nl >= to) break;
      hunk.newLine++;
      hunk.newLeft--;
      s = nl + 1;
    }
    if (hunk.newLeft <= 0) this.hunk = null;
    return s;
  }

  /** Reads one line (or a piece of a cut one); builds its LineInfo only when `describe` is set. */
  private consumeLine(
    bytes: Buffer,
    base: number,
    s: number,
    e: number,
    complete: boolean,
    describe: boolean,
  ): LineInfo | null {
    const open = this.openLine;
    if (open) {
      // The rest of a cut line: same classification, same line.
      if (complete) this.openLine = null;
      return describe
        ? {
            added: open.added,
            line: open.line,
            commit: this.commit,
            path: this.path,
            contentStart: open.contentStart,
          }
        : null;
    }
    const hunk = this.hunk;
    let added = false;
    let line = 0;
    let contentStart = base + s;
    if (hunk) {
      // An empty line in a hunk is a context line whose leading space was trimmed.
      const first = s < e ? bytes[s] : SPACE;
      line = hunk.newLine;
      contentStart++;
      if (first === PLUS) {
        added = true;
        hunk.newLine++;
        hunk.newLeft--;
      } else if (first === MINUS) {
        hunk.oldLeft--;
      } else if (first === SPACE || first === CR) {
        hunk.newLine++;
        hunk.newLeft--;
        hunk.oldLeft--;
      }
      // "\ No newline at end of file" changes no count.
      if (hunk.newLeft <= 0 && hunk.oldLeft <= 0) this.hunk = null;
    } else {
      this.readHeaderLine(bytes, s, e);
    }
    if (!complete) this.openLine = { added, line, contentStart };
    return describe ? { added, line, commit: this.commit, path: this.path, contentStart } : null;
  }

  private readHeaderLine(bytes: Buffer, s: number, e: number): void {
    const first = bytes[s];
    // Header lines are short; a giant one is not a header.
    if (e - s > 16384) return;
    if (first === 0x40 /* @ */) {
      const m = HUNK_HEADER.exec(bytes.toString("latin1", s, e));
      if (m) {
        const oldCount = m[2] === undefined ? 1 : Number(m[2]);
        const newCount = m[4] === undefined ? 1 : Number(m[4]);
        const start = Number(m[3]);
        this.hunk =
          oldCount + newCount > 0
            ? { newLine: start === 0 ? 1 : start, oldLeft: oldCount, newLeft: newCount }
            : null;
      }
      return;
    }
    const text = bytes.toString("utf8", s, e);
    if (first === 0x63 /* c */) {
      const m = COMMIT_LINE.exec(text);
      if (m) {
        this.commit = m[1];
        this.path = null;
      }
    } else if (text.startsWith("diff --git ")) {
      // Provisional: the `+++` line, when present, is authoritative (and handles quoting and spaces).
      const b = text.lastIndexOf(" b/");
      this.path = b >= 0 ? text.slice(b + 3) : null;
    } else if (first === PLUS && text.startsWith("+++ ")) {
      this.path = pathFromPlusLine(text.slice(4)) ?? this.path;
    } else if (text.startsWith("rename to ")) {
      this.path = unquoteGitPath(text.slice(10));
    }
  }
}
