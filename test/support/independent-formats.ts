/**
 * A second, independent implementation of the token formats, written from DESIGN.md §2 without sharing
 * code with src/tokens: BigInt arithmetic for Marvin32, bit strings for base32, a table-driven CRC32.
 * Tests compare it with what patrol mints and checks.
 */

const MASK32 = 0xffffffffn;
const rotl32 = (x: bigint, n: bigint) => ((x << n) | (x >> (32n - n))) & MASK32;

export function marvin(data: Uint8Array, seed: bigint): { p0: bigint; p1: bigint } {
  let p0 = seed & MASK32;
  let p1 = (seed >> 32n) & MASK32;
  const mix = () => {
    p1 ^= p0;
    p0 = rotl32(p0, 20n);
    p0 = (p0 + p1) & MASK32;
    p1 = rotl32(p1, 9n);
    p1 ^= p0;
    p0 = rotl32(p0, 27n);
    p0 = (p0 + p1) & MASK32;
    p1 = rotl32(p1, 19n);
  };
  const full = data.length - (data.length % 4);
  for (let i = 0; i < full; i += 4) {
    let w = 0n;
    for (let k = 3; k >= 0; k--) w = (w << 8n) | BigInt(data[i + k]);
    p0 = (p0 + w) & MASK32;
    mix();
  }
  const rest = data.subarray(full);
  let final: bigint;
  if (rest.length === 0) final = 0x80n;
  else if (rest.length === 1) final = 0x8000n | BigInt(rest[0]);
  else if (rest.length === 2) final = 0x800000n | BigInt(rest[0]) | (BigInt(rest[1]) << 8n);
  else final = 0x80000000n | BigInt(rest[0]) | (BigInt(rest[1]) << 8n) | (BigInt(rest[2]) << 16n);
  p0 = (p0 + final) & MASK32;
  mix();
  mix();
  return { p0, p1 };
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function base64Decode(text: string): number[] {
  const bits = [...text.replace(/=+$/, "")].map((c) => B64.indexOf(c).toString(2).padStart(6, "0")).join("");
  const out: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return out;
}

function base64Encode(bytes: number[]): string {
  let bits = bytes.map((b) => b.toString(2).padStart(8, "0")).join("");
  const pad = (3 - (bytes.length % 3)) % 3;
  bits += "0".repeat((6 - (bits.length % 6)) % 6);
  let out = "";
  for (let i = 0; i < bits.length; i += 6) out += B64[Number.parseInt(bits.slice(i, i + 6), 2)];
  return out + "=".repeat(pad);
}

export interface IndependentVerdict {
  valid: boolean;
  format: "azdo-pat" | "azdo-pat-legacy" | null;
  kind?: string;
  year?: number;
  month?: number;
  form?: "short" | "long";
}

export function checkAzdo(token: string): IndependentVerdict {
  if (!(token.length === 84 || token.length === 88)) return { valid: false, format: null };
  if (!/^[A-Za-z0-9]{80}/.test(token)) return { valid: false, format: null };
  if (token.slice(52, 57) !== "JQQJ9" || !"9DH".includes(token[57])) return { valid: false, format: null };
  const month = "ABCDEFGHIJKL".indexOf(token[59]) + 1;
  if (month === 0) return { valid: false, format: null };
  const h = marvin(Uint8Array.from(base64Decode(token.slice(0, 80))), 0x44656661756c7430n);
  const hash = (h.p0 ^ h.p1) & MASK32;
  const le = [0, 8, 16, 24].map((s) => Number((hash >> BigInt(s)) & 0xffn));
  let n = 0n;
  for (const b of le) n = n * 256n + BigInt(b);
  let digits = "";
  while (n > 0n) {
    digits = B62[Number(n % 62n)] + digits;
    n /= 62n;
  }
  let zeros = 0;
  while (zeros < 3 && le[zeros] === 0) zeros++;
  const six = ("0".repeat(zeros) + digits).padEnd(6, "0");
  const longTail = base64Encode(base64Decode(`${six}==`).slice(0, 4));
  const expected = token.length === 84 ? six.slice(0, 4) : longTail;
  const older = token.length === 84 ? base64Encode(le.slice(0, 3)) : base64Encode(le);
  const tail = token.slice(80);
  const kinds: Record<string, string> = { "9": "standard", D: "derived", H: "hashed" };
  return {
    valid: tail === expected || tail === older,
    format: "azdo-pat",
    kind: kinds[token[57]],
    year: 2024 + B64.indexOf(token[58]),
    month,
    form: token.length === 84 ? "short" : "long",
  };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: number[]): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function checkLegacy(token: string): IndependentVerdict {
  if (!/^[a-z2-7]{52}$/.test(token)) return { valid: false, format: null };
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bits = [...token].map((c) => alphabet.indexOf(c).toString(2).padStart(5, "0")).join("");
  if (!/^0+$/.test(bits.slice(256))) return { valid: false, format: null };
  const b: number[] = [];
  for (let i = 0; i < 256; i += 8) b.push(Number.parseInt(bits.slice(i, i + 8), 2));
  const stored = ((b[22] | (b[8] << 8) | (b[7] << 16) | (b[2] << 24)) >>> 0) as number;
  const payload = [...b.slice(0, 2), ...b.slice(3, 7), ...b.slice(9, 22), ...b.slice(23, 32)];
  const crc = crc32(payload);
  const kind =
    (crc ^ 0xe0b9692d) >>> 0 === stored
      ? "user"
      : (crc ^ 0x1019f92e) >>> 0 === stored
        ? "application"
        : undefined;
  return { valid: kind !== undefined, format: "azdo-pat-legacy", kind };
}

export function checkIndependently(token: string): IndependentVerdict {
  const azdo = checkAzdo(token);
  return azdo.format ? azdo : checkLegacy(token);
}
