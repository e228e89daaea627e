/** URL userinfo: `https://user:TOKEN@host/...` or `https://TOKEN@host/...`. */

const AT = 0x40;
const COLON = 0x3a;
const SLASH = 0x2f;
/** A userinfo longer than this is not worth walking back over. */
const MAX_USERINFO = 512;

/** True when the token at `bytes[start, end)` is the user or password of a URL's userinfo. */
export function isUrlUserinfo(bytes: Uint8Array, start: number, end: number, lo: number): boolean {
  if (bytes[end] !== AT) return false;
  // Walk back over an optional `user:` to the `//` that opens the authority.
  let k = start - 1;
  if (k >= lo && bytes[k] === COLON) {
    k--;
    const stop = Math.max(lo, k - MAX_USERINFO);
    while (k >= stop && isUserinfoByte(bytes[k])) k--;
  }
  return k - 1 >= lo && bytes[k] === SLASH && bytes[k - 1] === SLASH && k - 2 >= lo && bytes[k - 2] === COLON;
}

/** Unreserved, percent and sub-delimiter bytes RFC 3986 allows in a user name. */
function isUserinfoByte(b: number): boolean {
  return (
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e ||
    b === 0x25 ||
    b === 0x21 ||
    b === 0x24 ||
    b === 0x26 ||
    b === 0x27 ||
    b === 0x28 ||
    b === 0x29 ||
    b === 0x2a ||
    b === 0x2b ||
    b === 0x2c ||
    b === 0x3b ||
    b === 0x3d
  );
}
