import type { Finding } from "../detect/index.js";
import type { Reporter, TextSink } from "./reporter.js";

/** One finding per line, exactly the Finding keys (the machine contract). */
export function jsonlReporter(out: TextSink): Reporter {
  return {
    write: (f: Finding) => out.write(`${JSON.stringify(f)}\n`),
    end: () => {},
  };
}
