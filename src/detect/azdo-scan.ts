/**
 * Finds 84/88-character AZDO keys in bytes: `Buffer.indexOf` (memchr-class speed) for the fixed core
 * signature `JQQJ9` at offset 52, then the layout, boundaries and checksum only where it occurs.
 */
import { PROVIDER_SIGNATURE, parseAzdo } from "../tokens/index.js";
import { ALNUM, BASE64, matchesAt } from "./byte-classes.js";

const SIGNATURE = Buffer.from("JQQJ9", "latin1");
/** Characters 76–80: our provider signature (the same layout with another is another service's key). */
const PROVIDER = Buffer.from(PROVIDER_SIGNATURE, "latin1");
/** Offset of the signature inside a key. */
const SIGNATURE_AT = 52;
const EQUALS = 0x3d;

export interface AzdoMatch {
  /** Offset of the key's first byte. */
  start: number;
  /** The key (84 or 88 characters); stays inside the detector. */
  token: string;
}

/**
 * Checks for a key whose first byte is at `start` within `bytes[lo, hi)`, applying the boundary rules:
 * no `[A-Za-z0-9]` before it, none after its 84th character unless the long form follows.
 */
export function azdoKeyAt(bytes: Buffer, start: number, lo: number, hi: number): string | null {
  if (start < lo || start + 84 > hi) return null;
  if (!matchesAt(bytes, start + 76, PROVIDER)) return null;
  if (start > lo && ALNUM[bytes[start - 1]] === 1) return null;
  for (let k = start; k < start + 80; k++) if (ALNUM[bytes[k]] === 0) return null;
  const kind = bytes[start + 57];
  if (kind !== 0x39 && kind !== 0x44 && kind !== 0x48) return null; // 9 D H
  for (let k = start + 80; k < start + 84; k++) if (BASE64[bytes[k]] === 0) return null;
  // Long form: two more checksum characters and "==".
  if (
    start + 88 <= hi &&
    BASE64[bytes[start + 84]] === 1 &&
    BASE64[bytes[start + 85]] === 1 &&
    bytes[start + 86] === EQUALS &&
    bytes[start + 87] === EQUALS
  ) {
    const long = bytes.toString("latin1", start, start + 88);
    return parseAzdo(long) ? long : null;
  }
  if (start + 84 < hi && ALNUM[bytes[start + 84]] === 1) return null;
  const short = bytes.toString("latin1", start, start + 84);
  return parseAzdo(short) ? short : null;
}

/** Every valid AZDO key whose bytes lie in `bytes[lo, hi)`. */
export function findAzdoKeys(bytes: Buffer, lo: number, hi: number, onMatch: (m: AzdoMatch) => void): void {
  let p = bytes.indexOf(SIGNATURE, lo + SIGNATURE_AT);
  while (p !== -1 && p + 32 <= hi) {
    const start = p - SIGNATURE_AT;
    const token = azdoKeyAt(bytes, start, lo, hi);
    if (token) onMatch({ start, token });
    p = bytes.indexOf(SIGNATURE, p + 1);
  }
}
