/** Byte-level primitives for the scanners: class tables (one array lookup per byte, no regexes). */

function table(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";

/** `[A-Za-z0-9]`: the characters of an AZDO key (and what must not touch one). */
export const ALNUM = table(UPPER + LOWER + DIGITS);
/** `[a-z2-7]`: lowercase RFC 4648 base32, the legacy alphabet. */
export const BASE32_LOWER = table(`${LOWER}234567`);
/** `[A-Za-z0-9+/]`: standard base64 without padding. */
export const BASE64 = table(`${UPPER}${LOWER}${DIGITS}+/`);

/** True when `text` occurs in `bytes` at `at`. */
export function matchesAt(bytes: Uint8Array, at: number, text: Uint8Array): boolean {
  if (at < 0 || at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text[i]) return false;
  return true;
}
