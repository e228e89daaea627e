import { type DetectOptions, type Finding, type InputKind, scanBuffer } from "../../src/detect/index.js";
import { fingerprint } from "../../src/tokens/index.js";

export function scanText(
  text: string | Buffer,
  options: Partial<DetectOptions> = {},
  path = "file.txt",
): Finding[] {
  return scanBuffer(
    typeof text === "string" ? Buffer.from(text, "utf8") : text,
    { kind: "text", path },
    options,
  );
}

export function scanDiff(
  text: string | Buffer,
  options: Partial<DetectOptions> = {},
  path?: string,
): Finding[] {
  return scanBuffer(
    typeof text === "string" ? Buffer.from(text, "utf8") : text,
    { kind: "diff", path },
    options,
  );
}

export const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** A compact view of findings for assertions: fingerprint prefix is replaced by the token's label. */
export function summarize(findings: Finding[], labels: Record<string, string>): string[] {
  const byHash = new Map(Object.entries(labels).map(([label, token]) => [fingerprint(token), label]));
  return findings.map(
    (f) =>
      `${byHash.get(f.fingerprint) ?? "?"} ${f.encoding} ${f.path ?? "-"}:${f.line ?? "-"}:${f.column ?? "-"}`,
  );
}

export type { InputKind };
