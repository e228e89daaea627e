import type { Finding } from "../detect/index.js";
import type { Reporter, TextSink } from "./reporter.js";

/** A JSON array of findings, written when the scan ends. */
export function jsonReporter(out: TextSink): Reporter {
  const findings: Finding[] = [];
  return {
    write: (f) => findings.push(f),
    end: () => out.write(`${JSON.stringify(findings, null, 2)}\n`),
  };
}
