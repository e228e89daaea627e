/**
 * Scans a stream of chunks (or one buffer) of plain text or unified diff with bounded memory, and turns
 * hits into findings with their location. Tokens that straddle chunk boundaries are found: blocks are
 * whole lines, and a giant line is cut with an overlap.
 */
import { type Block, BlockSplitter, DEFAULT_MAX_LINE } from "./blocks.js";
import { DEFAULT_RETAIN_CAP, DiffLocator } from "./diff-locator.js";
import { type Finding, toFinding } from "./finding.js";
import { DEFAULT_DETECT_OPTIONS, type DetectOptions, type Hit, scanBytes } from "./scanner.js";
import { TextLocator } from "./text-lines.js";

export type InputKind = "text" | "diff";

const GATHER_BYTES = 1024 * 1024;

export interface ScanInput {
  /** "diff": only added lines count (unified diff, `git log -p`, or a GitHub `patch`). */
  kind: InputKind;
  /** The file's path (text), or the path for a hunk-only `patch` without file headers. */
  path?: string | null;
  commit?: string | null;
}

export interface StreamLimits {
  /** A line longer than this is cut (with an overlap). */
  maxLine?: number;
  /** Bytes kept, at most, to locate findings lazily before lines are counted eagerly. */
  retainCap?: number;
  /** Smaller chunks are gathered (copied) into blocks of this many bytes before they are scanned. */
  gatherBytes?: number;
}

export class StreamScanner {
  private readonly splitter: BlockSplitter;
  private readonly diff: DiffLocator | null;
  private readonly text: TextLocator | null;
  private readonly options: DetectOptions;
  private readonly gatherBytes: number;
  /** Small chunks gathered (copied) until a block's worth: one buffer, reused. */
  private pending: Buffer | null = null;
  private pendingLength = 0;

  constructor(
    private readonly input: ScanInput,
    options: Partial<DetectOptions> = {},
    limits: StreamLimits = {},
  ) {
    this.options = { ...DEFAULT_DETECT_OPTIONS, ...options };
    this.gatherBytes = limits.gatherBytes ?? GATHER_BYTES;
    this.splitter = new BlockSplitter(limits.maxLine ?? DEFAULT_MAX_LINE, input.kind === "diff");
    const retainCap = limits.retainCap ?? DEFAULT_RETAIN_CAP;
    this.diff = input.kind === "diff" ? new DiffLocator(input, retainCap) : null;
    this.text = input.kind === "text" ? new TextLocator(retainCap) : null;
  }

  /**
   * Takes the next chunk. The scanner keeps no view of it once `push` returns (what it keeps, it copies),
   * so the caller may reuse the chunk's memory. Small chunks (a pipe gives 64 KiB) are gathered into
   * ~1 MiB blocks first, so per-block work is amortised.
   */
  push(chunk: Uint8Array): Finding[] {
    if (chunk.length >= this.gatherBytes && this.pendingLength === 0)
      return this.process(this.splitter.push(chunk));
    const findings: Finding[] = [];
    let at = 0;
    while (at < chunk.length) {
      this.pending ??= Buffer.allocUnsafeSlow(this.gatherBytes);
      const n = Math.min(chunk.length - at, this.gatherBytes - this.pendingLength);
      this.pending.set(chunk.subarray(at, at + n), this.pendingLength);
      this.pendingLength += n;
      at += n;
      if (this.pendingLength === this.gatherBytes) this.flushPending(findings);
    }
    return findings;
  }

  end(): Finding[] {
    const findings: Finding[] = [];
    this.flushPending(findings);
    for (const block of this.splitter.end()) this.scanBlock(block, findings);
    return findings;
  }

  private flushPending(findings: Finding[]): void {
    if (this.pending === null || this.pendingLength === 0) return;
    const blocks = this.splitter.push(this.pending.subarray(0, this.pendingLength));
    for (const block of blocks) this.scanBlock(block, findings);
    // The splitter and locators copied what they keep, so the buffer can take the next chunks.
    this.pendingLength = 0;
  }

  private process(blocks: Block[]): Finding[] {
    const findings: Finding[] = [];
    for (const block of blocks) this.scanBlock(block, findings);
    return findings;
  }

  private scanBlock(block: Block, findings: Finding[]): void {
    const { bytes, base, ownFrom, ownTo } = block;
    const hits: Hit[] = [];
    const layout = {
      diffLines: this.diff !== null,
      loIsLineStart: block.fresh === 0,
      loRunEncoding: block.loRunEncoding,
    };
    // Around a cut both blocks see the overlap; each token is reported by the one that owns it.
    scanBytes(bytes, 0, bytes.length, this.options, layout, (h) => {
      if (h.offset >= ownFrom && h.offset < ownTo) hits.push(h);
    });
    hits.sort((a, b) => a.offset - b.offset);
    const offsets = hits.map((h) => base + h.offset);
    if (this.diff) {
      const lines = this.diff.locate(block, offsets);
      hits.forEach((hit, i) => {
        const info = lines[i];
        if (!info) return;
        findings.push(
          toFinding(hit, {
            commit: info.commit ?? this.input.commit ?? null,
            path: info.path ?? this.input.path ?? null,
            line: info.line,
            column: offsets[i] - info.contentStart + 1,
          }),
        );
      });
    } else if (this.text) {
      const lines = this.text.locate(block, offsets);
      hits.forEach((hit, i) => {
        findings.push(
          toFinding(hit, {
            commit: this.input.commit ?? null,
            path: this.input.path ?? null,
            line: lines[i].line,
            column: lines[i].column,
          }),
        );
      });
    }
  }
}

/** Scans one buffer. */
export function scanBuffer(
  bytes: Uint8Array,
  input: ScanInput,
  options: Partial<DetectOptions> = {},
): Finding[] {
  const scanner = new StreamScanner(input, options);
  return [...scanner.push(bytes), ...scanner.end()];
}

/**
 * Scans a stream of chunks with bounded memory, yielding findings as they are found. When the source
 * fails, the findings in what it delivered are yielded first, then its error is thrown.
 */
export async function* scanStream(
  source: AsyncIterable<Uint8Array>,
  input: ScanInput,
  options: Partial<DetectOptions> = {},
  limits: StreamLimits = {},
): AsyncGenerator<Finding> {
  const scanner = new StreamScanner(input, options, limits);
  try {
    for await (const chunk of source) yield* scanner.push(chunk);
  } catch (err) {
    // What the source did deliver is scanned to its end before its error goes on.
    yield* scanner.end();
    throw err;
  }
  yield* scanner.end();
}
