/** Finds legacy 52-character tokens: maximal runs of exactly 52 `[a-z2-7]`. */
import { parseLegacy } from "../tokens/index.js";
import { BASE32_LOWER } from "./byte-classes.js";
import { forEachRun } from "./runs.js";

export const LEGACY_LENGTH = 52;

export interface LegacyMatch {
  start: number;
  token: string;
  checksumValid: boolean;
}

function legacyAt(bytes: Buffer, start: number): LegacyMatch {
  const token = bytes.toString("latin1", start, start + LEGACY_LENGTH);
  return { start, token, checksumValid: parseLegacy(token)?.checksumValid === true };
}

/** Skip-scans `bytes[lo, hi)` for legacy candidates (whole range; use when the base64 pass is off). */
export function findLegacyTokens(
  bytes: Buffer,
  lo: number,
  hi: number,
  onMatch: (m: LegacyMatch) => void,
): void {
  forEachRun(bytes, lo, hi, BASE32_LOWER, LEGACY_LENGTH, (s, e) => {
    if (e - s === LEGACY_LENGTH) onMatch(legacyAt(bytes, s));
  });
}

/** Linear scan of a short span (a base64-class run) for maximal `[a-z2-7]` runs of exactly 52. */
export function findLegacyTokensInSpan(
  bytes: Buffer,
  lo: number,
  hi: number,
  onMatch: (m: LegacyMatch) => void,
): void {
  let runStart = -1;
  for (let k = lo; k <= hi; k++) {
    const inClass = k < hi && BASE32_LOWER[bytes[k]] === 1;
    if (inClass) {
      if (runStart < 0) runStart = k;
    } else if (runStart >= 0) {
      if (k - runStart === LEGACY_LENGTH) onMatch(legacyAt(bytes, runStart));
      runStart = -1;
    }
  }
}
