/** `patrol scan`: wires a source (git history, a diff, files) to the detector and a reporter. */
import { parseArgs } from "node:util";
import { type DetectOptions, type Finding, type ScanInput, scanStream } from "../detect/index.js";
import {
  createReporter,
  type ProgressCounts,
  ProgressLine,
  type ProgressSink,
  REPORT_FORMATS,
  type ReportFormat,
  showsProgress,
} from "../report/index.js";
import { gitHistory, HistoryTally, readAhead, walkFiles } from "../sources/index.js";
import { VERSION } from "../version.js";
import { type CliIo, UsageError } from "./usage-error.js";

export const SCAN_USAGE = `usage: patrol scan [REPO] [--range A..B | --all] [--no-binary]
       patrol scan --diff FILE|-
       patrol scan --files PATH...
options: --format text|json|jsonl|sarif (default text)  --legacy-candidates
exit status: 0 nothing found, 1 tokens found, 2 error`;

/** Returns the exit status: 0 nothing found, 1 something found. Throws UsageError or source errors. */
export async function runScan(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      range: { type: "string" },
      all: { type: "boolean", default: false },
      diff: { type: "string" },
      files: { type: "boolean", default: false },
      format: { type: "string", default: "text" },
      "legacy-candidates": { type: "boolean", default: false },
      "no-binary": { type: "boolean", default: false },
    },
  });
  const format = values.format as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new UsageError(`unknown --format ${values.format}`);
  const modes = [values.diff !== undefined, values.files, values.range !== undefined || values.all].filter(
    Boolean,
  );
  if (modes.length > 1)
    throw new UsageError("choose one of: a repository (with --range/--all), --diff, --files");
  if (values.range !== undefined && values.all) throw new UsageError("--range and --all exclude each other");
  const options: Partial<DetectOptions> = { legacyCandidates: values["legacy-candidates"] };

  const reporter = createReporter(format, io.stdout, VERSION);
  const stderr = io.stderr as ProgressSink;
  const progress = showsProgress(stderr) ? new ProgressLine(stderr) : null;
  const counts: ProgressCounts = { bytes: 0 };
  let found = 0;
  const report = async (findings: AsyncIterable<Finding>) => {
    for await (const f of findings) {
      found++;
      reporter.write(f);
    }
  };
  /** Counts the bytes going by, for the progress line. */
  async function* counted(source: AsyncIterable<Uint8Array>, tally?: HistoryTally) {
    for await (const chunk of source) {
      counts.bytes += chunk.length;
      if (tally) counts.commits = tally.commits;
      progress?.update(counts);
      yield chunk;
    }
  }

  try {
    if (values.diff !== undefined) {
      if (positionals.length > 0)
        throw new UsageError("--diff takes one FILE (or - for stdin), no other arguments");
      const source = values.diff === "-" ? (io.stdin as AsyncIterable<Uint8Array>) : readAhead(values.diff);
      await report(scanStream(counted(source), { kind: "diff" }, options));
    } else if (values.files) {
      if (positionals.length === 0) throw new UsageError("--files needs at least one PATH");
      for await (const file of walkFiles(positionals)) {
        const input: ScanInput = { kind: "text", path: file.path };
        await report(scanStream(counted(file.open()), input, options));
      }
    } else {
      if (positionals.length > 1) throw new UsageError("give at most one repository");
      const tally = new HistoryTally();
      const history = gitHistory(
        positionals[0] ?? ".",
        { range: values.range, all: values.all, binary: !values["no-binary"] },
        tally,
      );
      await report(scanStream(counted(history, tally), { kind: "diff" }, options));
    }
  } catch (err) {
    progress?.end();
    // The findings reported before a failure stay a whole document (the exit status says it failed).
    if (!(err instanceof UsageError)) reporter.end(true);
    throw err;
  }
  progress?.end();
  reporter.end();
  return found > 0 ? 1 : 0;
}
