/**
 * The legacy 52-character PAT: lowercase RFC 4648 base32 of 32 bytes, with a CRC32 checksum spread over
 * bytes 2, 7, 8 and 22. See DESIGN.md §2.2. The checksum is unconfirmed on real tokens, so the store
 * lookup, not this check, decides what is real.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { crc32 } from "node:zlib";

export const LEGACY_LENGTH = 52;
export const LEGACY_SEEDS = { user: 0xe0b9692d, application: 0x1019f92e } as const;
export type LegacyKind = keyof typeof LEGACY_SEEDS;

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const BASE32_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 32; i++) BASE32_VALUE[BASE32.charCodeAt(i)] = i;

export interface LegacyFields {
  format: "azdo-pat-legacy";
  /** Which seed the checksum matched; null when it matched neither. */
  kind: LegacyKind | null;
  checksumValid: boolean;
}

/** Decodes 52 lowercase base32 characters to 32 bytes; null when a character or the 4 pad bits are wrong. */
export function decodeLegacy(token: string): Buffer | null {
  if (token.length !== LEGACY_LENGTH) return null;
  const out = Buffer.alloc(32);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < LEGACY_LENGTH; i++) {
    const v = BASE32_VALUE[token.charCodeAt(i) & 0xff];
    if (v < 0 || token.charCodeAt(i) > 0xff) return null;
    acc = ((acc << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // 260 bits carry 256: the last 4 bits must be zero in a canonical encoding.
  if ((acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

function encodeLegacy(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

const payloadOf = (b: Uint8Array): Buffer =>
  Buffer.concat([b.subarray(0, 2), b.subarray(3, 7), b.subarray(9, 22), b.subarray(23, 32)]);
const storedChecksum = (b: Uint8Array): number => (b[22] | (b[8] << 8) | (b[7] << 16) | (b[2] << 24)) >>> 0;

function u32(n: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n >>> 0);
  return out;
}

/** Parses a legacy token; null when it is not 52 canonical base32 characters. */
export function parseLegacy(token: string): LegacyFields | null {
  const bytes = decodeLegacy(token);
  if (!bytes) return null;
  const crc = crc32(payloadOf(bytes));
  const stored = u32(storedChecksum(bytes));
  // Both seeds are always compared so timing does not reveal which one matched.
  const user = timingSafeEqual(stored, u32(crc ^ LEGACY_SEEDS.user));
  const application = timingSafeEqual(stored, u32(crc ^ LEGACY_SEEDS.application));
  const kind: LegacyKind | null = user ? "user" : application ? "application" : null;
  return { format: "azdo-pat-legacy", kind, checksumValid: kind !== null };
}

/** Mints a legacy token with a valid checksum for the given seed. */
export function mintLegacy(kind: LegacyKind = "user"): string {
  const bytes = randomBytes(32);
  const sum = (crc32(payloadOf(bytes)) ^ LEGACY_SEEDS[kind]) >>> 0;
  bytes[22] = sum & 0xff;
  bytes[8] = (sum >>> 8) & 0xff;
  bytes[7] = (sum >>> 16) & 0xff;
  bytes[2] = (sum >>> 24) & 0xff;
  return encodeLegacy(bytes);
}
