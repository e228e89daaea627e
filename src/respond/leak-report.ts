/**
 * What the response to a leak starts from: one token, by fingerprint, with every place it was seen. This is a
 * respond job's data, held in clear text in Redis: fingerprints, redacted forms and locations only.
 */
import type { TokenFormat } from "../tokens/index.js";

export type LeakSource = "push" | "history" | "secret-scanning";

export interface ReportedLocation {
  /** `owner/name`. */
  repository: string;
  commit: string;
  path: string;
  line: number;
  /** A permalink to the line (or GitHub's URL for the match). */
  url: string | null;
}

export interface LeakReport {
  fingerprint: string;
  format: TokenFormat;
  checksumValid: boolean;
  /** First 4 and last 4 characters, for people. */
  redacted: string;
  source: LeakSource;
  locations: ReportedLocation[];
  /** Ties the audit events to the delivery that brought the leak (X-GitHub-Delivery). */
  correlationId: string;
  /** When the webhook arrived (ms since the epoch). */
  receivedAt: number;
}
