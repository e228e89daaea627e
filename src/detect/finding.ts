/** A finding: what leaves the detector. It carries the token's fingerprint, never the token. */
import { fingerprint, redact, type TokenFormat } from "../tokens/index.js";
import type { Encoding, Hit } from "./scanner.js";

export interface Finding {
  format: TokenFormat;
  /** SHA-256 of the token, hex. */
  fingerprint: string;
  checksumValid: boolean;
  encoding: Encoding;
  commit: string | null;
  path: string | null;
  /** 1-based line in the (new) file. */
  line: number | null;
  /** 1-based byte column of the token, or of the base64 group holding its start. */
  column: number | null;
  /** For people: first 4 characters, an ellipsis and the last 4. */
  redacted: string;
}

export interface Location {
  commit: string | null;
  path: string | null;
  line: number | null;
  column: number | null;
}

/** The one place a token turns into a finding. Key order is the JSONL contract. */
export function toFinding(hit: Hit, at: Location): Finding {
  return {
    format: hit.format,
    fingerprint: fingerprint(hit.token),
    checksumValid: hit.checksumValid,
    encoding: hit.encoding,
    commit: at.commit,
    path: at.path,
    line: at.line,
    column: at.column,
    redacted: redact(hit.token),
  };
}
