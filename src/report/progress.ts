/**
 * A progress line for long scans on a terminal: bytes and commits scanned, and the rate, redrawn in place
 * on stderr. Never on a pipe or file, where it would only be noise in a log.
 */

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressCounts {
  bytes: number;
  /** Commits scanned, when the input is git history. */
  commits?: number;
}

/** Shown only when the stream is a terminal. */
export function showsProgress(sink: ProgressSink): boolean {
  return sink.isTTY === true;
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];

function bytesText(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${UNITS[unit]}`;
}

/** E.g. `scanned 1.2 GB, 12,345 commits, 310.5 MB/s`. */
export function formatProgress(counts: ProgressCounts, seconds: number): string {
  const rate = seconds > 0 ? `${bytesText(counts.bytes / seconds)}/s` : "–";
  const commits = counts.commits === undefined ? "" : `, ${counts.commits.toLocaleString("en-US")} commits`;
  return `scanned ${bytesText(counts.bytes)}${commits}, ${rate}`;
}

export class ProgressLine {
  private readonly started: number;
  private lastDraw: number;
  private drawn = false;

  /** Draws at most every `intervalMs`, the first time after `intervalMs` (a short scan shows nothing). */
  constructor(
    private readonly sink: ProgressSink,
    private readonly intervalMs = 1000,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
    this.lastDraw = this.started;
  }

  update(counts: ProgressCounts): void {
    const t = this.now();
    if (t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    this.drawn = true;
    this.sink.write(`\r\x1b[K${formatProgress(counts, (t - this.started) / 1000)}`);
  }

  /** Clears the line, so what follows on the terminal starts clean. */
  end(): void {
    if (this.drawn) this.sink.write("\r\x1b[K");
    this.drawn = false;
  }
}
