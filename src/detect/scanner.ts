/**
 * The detector proper: finds tokens in a byte range, plain and encoded, and reports each with the offset
 * where it (or the encoded text holding it) starts. Knows nothing of files, diffs' meaning or GitHub.
 */
import type { TokenFormat } from "../tokens/index.js";
import { azdoKeyAt, findAzdoKeys } from "./azdo-scan.js";
import { BASE64, matchesAt } from "./byte-classes.js";
import {
  AZDO_RENDERINGS,
  base64Encoding,
  base64RunAround,
  decodeBase64,
  encodedOffset,
  MIN_TOKEN_RUN,
} from "./codec/base64.js";
import { isUrlUserinfo } from "./codec/url.js";
import { findLegacyTokens, findLegacyTokensInSpan, LEGACY_LENGTH, type LegacyMatch } from "./legacy-scan.js";
import { forEachRun } from "./runs.js";

export type Encoding = "plain" | "base64" | "basic-auth" | "url";

export interface DetectOptions {
  /** 84/88-character AZDO keys (default on). */
  azdo: boolean;
  /** 52-character legacy tokens (default on). */
  legacy: boolean;
  /** Base64, HTTP Basic and URL userinfo forms (default on). */
  encoded: boolean;
  /** Also report legacy candidates whose checksum fails (the store decides what is real). */
  legacyCandidates: boolean;
}

export const DEFAULT_DETECT_OPTIONS: Readonly<DetectOptions> = Object.freeze({
  azdo: true,
  legacy: true,
  encoded: true,
  legacyCandidates: false,
});

/** A token found in bytes. `token` never leaves the detector: findings carry its fingerprint. */
export interface Hit {
  offset: number;
  token: string;
  format: TokenFormat;
  encoding: Encoding;
  checksumValid: boolean;
}

/** Base64 inside base64 (a Kubernetes Secret holding a docker config) is followed this deep, no deeper. */
const MAX_DECODE_DEPTH = 2;
const PLUS = 0x2b;
const NEWLINE = 0x0a;

/** How the scanned bytes are laid out. */
export interface Layout {
  /** A unified diff: a `+` that opens a line is a marker, not base64. */
  diffLines: boolean;
  /** Whether `lo` is the start of a line (false for the overlap after a giant line was cut). */
  loIsLineStart: boolean;
  /**
   * How a base64 run that starts at `lo` is encoded when that was decided before `lo` (the overlap after a
   * cut inside a giant base64 line); when absent, such a run is judged by what follows `lo` alone.
   */
  loRunEncoding?: "basic-auth" | "base64" | null;
}

/** Scans `bytes[lo, hi)`; runs and boundaries are not looked for before `lo`. */
export function scanBytes(
  bytes: Buffer,
  lo: number,
  hi: number,
  options: DetectOptions,
  layout: Layout,
  onHit: (hit: Hit) => void,
): void {
  new Scan(options, layout).run(bytes, lo, hi, 0, onHit);
}

class Scan {
  constructor(
    private readonly options: DetectOptions,
    private readonly layout: Layout,
  ) {}

  run(bytes: Buffer, lo: number, hi: number, depth: number, onHit: (hit: Hit) => void): void {
    const { options } = this;
    const urlAware = options.encoded && depth === 0;
    if (options.azdo) {
      findAzdoKeys(bytes, lo, hi, ({ start, token }) => {
        const encoding = urlAware && isUrlUserinfo(bytes, start, start + token.length, lo) ? "url" : "plain";
        onHit({ offset: start, token, format: "azdo-pat", encoding, checksumValid: true });
      });
    }
    const legacyHit = (m: LegacyMatch) => {
      if (!m.checksumValid && !options.legacyCandidates) return;
      const encoding =
        urlAware && isUrlUserinfo(bytes, m.start, m.start + LEGACY_LENGTH, lo) ? "url" : "plain";
      onHit({
        offset: m.start,
        token: m.token,
        format: "azdo-pat-legacy",
        encoding,
        checksumValid: m.checksumValid,
      });
    };
    const decoding = options.encoded && depth < MAX_DECODE_DEPTH;
    const diffLines = this.layout.diffLines && depth === 0;
    const loIsLineStart = this.layout.loIsLineStart || depth > 0;
    if (decoding && options.legacy) {
      // One skip-scan over base64-class runs serves both legacy tokens (a run of [a-z2-7] lies inside one)
      // and encoded tokens of either format (by decoding the long runs).
      forEachRun(bytes, lo, hi, BASE64, LEGACY_LENGTH, (s, e) => {
        if (diffLines && opensLineWithPlus(bytes, s, lo, loIsLineStart)) s++;
        findLegacyTokensInSpan(bytes, s, e, legacyHit);
        if (e - s >= MIN_TOKEN_RUN) this.scanDecodedRun(bytes, s, e, lo, depth, onHit);
      });
      return;
    }
    if (options.legacy) findLegacyTokens(bytes, lo, hi, legacyHit);
    if (decoding && options.azdo)
      this.findEncodedAzdoKeys(bytes, lo, hi, depth, diffLines, loIsLineStart, onHit);
  }

  private scanDecodedRun(
    bytes: Buffer,
    s: number,
    e: number,
    lo: number,
    depth: number,
    onHit: (hit: Hit) => void,
  ): void {
    const decoded = decodeBase64(bytes, s, e);
    let encoding: Encoding | undefined;
    this.run(decoded, 0, decoded.length, depth + 1, (inner) => {
      encoding ??= this.encodingOfRun(bytes, s, lo, depth);
      onHit({ ...inner, offset: encodedOffset(s, inner.offset), encoding });
    });
  }

  /** How the base64 run starting at `runStart` is encoded (at depth > 0 the outer run's encoding wins). */
  private encodingOfRun(bytes: Buffer, runStart: number, lo: number, depth: number): Encoding {
    const before = this.layout.loRunEncoding;
    if (runStart === lo && depth === 0 && before) return before;
    return base64Encoding(bytes, runStart, lo);
  }

  /** Base64-encoded AZDO keys through the three renderings of their signature, decoding ~120 bytes each. */
  private findEncodedAzdoKeys(
    bytes: Buffer,
    lo: number,
    hi: number,
    depth: number,
    diffLines: boolean,
    loIsLineStart: boolean,
    onHit: (hit: Hit) => void,
  ): void {
    for (const r of AZDO_RENDERINGS) {
      for (
        let q = bytes.indexOf(r.needle, lo + r.needleAt);
        q !== -1 && q < hi;
        q = bytes.indexOf(r.needle, q + 1)
      ) {
        const p = q - r.needleAt;
        if (!matchesAt(bytes, p, r.text)) continue;
        const groupStart = p - r.offsetInGroup;
        // Decode from the group holding the byte before the key to the one holding the byte after it.
        const fromGroup = Math.floor((r.alignment - 53) / 3);
        const toGroup = Math.ceil((r.alignment + 37) / 3);
        let [runStart, runEnd] = base64RunAround(
          bytes,
          p,
          Math.max(lo, groupStart + 4 * fromGroup),
          Math.min(hi, groupStart + 4 * toGroup),
        );
        if (diffLines && opensLineWithPlus(bytes, runStart, lo, loIsLineStart)) runStart++;
        if (runStart > p) continue;
        const windowStart = runStart + ((((groupStart - runStart) % 4) + 4) % 4);
        const decoded = decodeBase64(bytes, windowStart, runEnd);
        const keyStart = ((groupStart - windowStart) / 4) * 3 + r.alignment - 52;
        if (keyStart < 0) continue;
        const token = azdoKeyAt(decoded, keyStart, 0, decoded.length);
        if (!token) continue;
        let fullRunStart = base64RunAround(bytes, windowStart, lo, windowStart)[0];
        if (diffLines && opensLineWithPlus(bytes, fullRunStart, lo, loIsLineStart)) fullRunStart++;
        onHit({
          offset: encodedOffset(windowStart, keyStart),
          token,
          format: "azdo-pat",
          encoding: this.encodingOfRun(bytes, fullRunStart, lo, depth),
          checksumValid: true,
        });
      }
    }
  }
}

/** True when `bytes[s]` is the `+` that marks an added line in a diff. */
function opensLineWithPlus(bytes: Buffer, s: number, lo: number, loIsLineStart: boolean): boolean {
  return bytes[s] === PLUS && (s === lo ? loIsLineStart : bytes[s - 1] === NEWLINE);
}
