import type { Finding } from "../detect/index.js";
import type { Reporter, TextSink } from "./reporter.js";

/** For people: `path:line:column  format (encoding)  redacted  commit`, then a count. */
export function textReporter(out: TextSink): Reporter {
  let count = 0;
  return {
    write: (f: Finding) => {
      count++;
      const where = `${f.path ?? "-"}:${f.line ?? "?"}:${f.column ?? "?"}`;
      const what = `${f.format}${f.encoding === "plain" ? "" : ` (${f.encoding})`}${f.checksumValid ? "" : " [checksum fails]"}`;
      const commit = f.commit ? `  commit ${f.commit.slice(0, 12)}` : "";
      out.write(`${where}  ${what}  ${f.redacted}  sha256:${f.fingerprint.slice(0, 16)}${commit}\n`);
    },
    end: (stopped = false) => {
      const tokens = count === 0 ? "no tokens" : `${count} token${count === 1 ? "" : "s"}`;
      out.write(stopped ? `${tokens} found before the scan stopped\n` : `${tokens} found\n`);
    },
  };
}
