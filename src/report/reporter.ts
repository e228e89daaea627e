import type { Finding } from "../detect/index.js";

/** Where findings go: one reporter per output format. */
export interface Reporter {
  write(finding: Finding): void;
  /** Closes the document; `stopped` when the scan failed part-way (the findings so far are still whole). */
  end(stopped?: boolean): void;
}

/** Anything with a `write(string)`: process.stdout, a file stream, a test buffer. */
export interface TextSink {
  write(text: string): unknown;
}
