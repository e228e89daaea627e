/**
 * Base64: tokens inside base64 text (HTTP Basic credentials, .npmrc `_auth`, docker `auth`, Kubernetes
 * Secret `data:` values, any standalone run).
 *
 * Two ways in. An AZDO key has the fixed bytes `JQQJ9`; whatever surrounds them, base64 renders those 5
 * bytes as one of only three 6-character strings (one per position modulo 3), so `indexOf` finds encoded
 * keys without decoding anything. Legacy tokens have no fixed bytes, so when they are wanted, every base64
 * run long enough to hold one is decoded and scanned (such runs are rare in source text).
 */
import { BASE64 } from "../byte-classes.js";

/** Shortest base64 run that can hold the 52 bytes of a legacy token (an AZDO key needs 112). */
export const MIN_TOKEN_RUN = 68;

export interface Rendering {
  text: Buffer;
  /** What to `indexOf` for: the part of `text` from `needleAt`, chosen to start with a rare character. */
  needle: Buffer;
  needleAt: number;
  /** How far into its 4-character group the rendering starts. */
  offsetInGroup: number;
  /** Position of `J` of `JQQJ9` within its 3-byte group. */
  alignment: number;
}

function rendering(alignment: number): Rendering {
  // Pad before the signature so it sits at `alignment` in its group; the filler after it is irrelevant
  // because only characters fully determined by the signature are kept.
  const sample = Buffer.concat([Buffer.alloc(alignment, 0x41), Buffer.from("JQQJ9AA", "latin1")]);
  const encoded = sample.toString("base64");
  const [from, to] = alignment === 0 ? [0, 6] : alignment === 1 ? [2, 8] : [3, 9];
  const text = encoded.slice(from, to);
  // Buffer.indexOf runs memchr on the needle's first byte, so start where that byte is rare in text.
  let needleAt = 0;
  for (let k = 1; k <= text.length - 4; k++)
    if (commonness(text[k]) < commonness(text[needleAt])) needleAt = k;
  return {
    text: Buffer.from(text, "latin1"),
    needle: Buffer.from(text.slice(needleAt), "latin1"),
    needleAt,
    offsetInGroup: from,
    alignment,
  };
}

/** Rough frequency class of a character in source text: lowercase common, some capitals less, the rest rare. */
function commonness(c: string): number {
  if (c >= "a" && c <= "z") return 3;
  return "SETACRINO".includes(c) ? 2 : 1;
}

/** The three base64 renderings of `JQQJ9`. */
export const AZDO_RENDERINGS: readonly Rendering[] = [rendering(0), rendering(1), rendering(2)];

/** Decodes the base64 text `bytes[s, e)` (any trailing partial group is dropped by Node's decoder). */
export function decodeBase64(bytes: Buffer, s: number, e: number): Buffer {
  return Buffer.from(bytes.toString("latin1", s, e), "base64");
}

/** Where, in the encoded text starting at `runStart`, the group holding decoded byte `d` begins. */
export function encodedOffset(runStart: number, d: number): number {
  return runStart + Math.floor(d / 3) * 4;
}

/** Extent of the base64 run around `at`, looking no further than `[lo, hi)`. */
export function base64RunAround(bytes: Buffer, at: number, lo: number, hi: number): [number, number] {
  let s = at;
  while (s > lo && BASE64[bytes[s - 1]] === 1) s--;
  let e = at;
  while (e < hi && BASE64[bytes[e]] === 1) e++;
  return [s, e];
}

const BASIC = Buffer.from("basic", "latin1");

/** "basic-auth" when the run follows `Basic ` (any case, any spaces), as in an Authorization header. */
export function base64Encoding(bytes: Buffer, runStart: number, lo: number): "basic-auth" | "base64" {
  let k = runStart - 1;
  if (k < lo || (bytes[k] !== 0x20 && bytes[k] !== 0x09)) return "base64";
  while (k >= lo && (bytes[k] === 0x20 || bytes[k] === 0x09)) k--;
  if (k - 4 < lo) return "base64";
  for (let i = 0; i < 5; i++) if ((bytes[k - 4 + i] | 0x20) !== BASIC[i]) return "base64";
  return "basic-auth";
}
