/** Output formats for findings: one file per format, all taking the same Finding. */
import { jsonReporter } from "./json.js";
import { jsonlReporter } from "./jsonl.js";
import type { Reporter, TextSink } from "./reporter.js";
import { sarifReporter } from "./sarif.js";
import { textReporter } from "./text.js";

export {
  formatProgress,
  type ProgressCounts,
  ProgressLine,
  type ProgressSink,
  showsProgress,
} from "./progress.js";
export type { Reporter, TextSink } from "./reporter.js";
export const REPORT_FORMATS = ["text", "json", "jsonl", "sarif"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export function createReporter(format: ReportFormat, out: TextSink, toolVersion: string): Reporter {
  switch (format) {
    case "text":
      return textReporter(out);
    case "json":
      return jsonReporter(out);
    case "jsonl":
      return jsonlReporter(out);
    case "sarif":
      return sarifReporter(out, toolVersion);
  }
}
