/**
 * The current 84-character PAT format ("common annotated security key" with provider signature AZDO),
 * and its 88-character long form. See DESIGN.md §2.1 for the layout.
 */
import { randomInt, timingSafeEqual } from "node:crypto";
import { marvin32 } from "./marvin.js";

export const AZDO_LENGTH = 84;
export const AZDO_LONG_LENGTH = 88;
/** Characters 52..56: the fixed core signature. */
export const CORE_SIGNATURE = "JQQJ";
export const PROVIDER_SIGNATURE = "AZDO";
/** ASCII of "Default0": the Marvin seed for the checksum. */
const CHECKSUM_SEED = 0x44656661756c7430n;

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Alphabet of the 52 random characters: base62 in the order of the spec's examples. */
const RANDOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export type KeyKind = "standard" | "derived" | "hashed";
const KIND_CHARS: Record<string, KeyKind> = { "9": "standard", D: "derived", H: "hashed" };
const KIND_TO_CHAR: Record<KeyKind, string> = { standard: "9", derived: "D", hashed: "H" };

export interface AzdoFields {
  format: "azdo-pat";
  kind: KeyKind;
  year: number;
  month: number;
  provider: string;
  /** "short" is 84 characters, "long" is 88 (two extra checksum characters and `==`). */
  form: "short" | "long";
  /** "base62" is what we mint; "base64" is what older generators wrote. */
  checksumEncoding: "base62" | "base64";
}

/** The four little-endian bytes of the Marvin32 checksum of the 60 bytes that `prefix80` encodes. */
export function checksumBytes(prefix80: string): Buffer {
  const bytes = Buffer.from(prefix80, "base64");
  const out = Buffer.alloc(4);
  out.writeUInt32LE(marvin32(bytes, CHECKSUM_SEED));
  return out;
}

/** Base62 of four bytes read as a big-endian number, with one `0` per leading zero byte, padded to 6. */
function base62Checksum6(le: Buffer): string {
  let leadingZeros = 0;
  while (leadingZeros < 3 && le[leadingZeros] === 0) leadingZeros++;
  let n = le.readUInt32BE(0);
  let digits = "";
  while (n > 0) {
    digits = BASE62[n % 62] + digits;
    n = Math.floor(n / 62);
  }
  return ("0".repeat(leadingZeros) + digits).padEnd(6, "0");
}

/** The 4 checksum characters of the short form and the 8 of the long form, as newly minted keys have them. */
export function expectedChecksum(prefix80: string): { short: string; long: string } {
  const six = base62Checksum6(checksumBytes(prefix80));
  return {
    short: six.slice(0, 4),
    long: Buffer.from(`${six}==`, "base64").toString("base64"),
  };
}

/** Checksum characters older generators wrote: base64 of the first three (short) or all four (long) bytes. */
function legacyGeneratorChecksum(prefix80: string): { short: string; long: string } {
  const le = checksumBytes(prefix80);
  return { short: le.subarray(0, 3).toString("base64"), long: le.toString("base64") };
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, "latin1");
  const bb = Buffer.from(b, "latin1");
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

const ALNUM = /^[A-Za-z0-9]+$/;

type Layout = Omit<AzdoFields, "checksumEncoding">;

/** Reads the fixed fields whatever the provider signature; a string says what is wrong with the layout. */
function readLayout(token: string): Layout | string {
  if (token.length !== AZDO_LENGTH && token.length !== AZDO_LONG_LENGTH)
    return `${token.length} characters, not ${AZDO_LENGTH} or ${AZDO_LONG_LENGTH}`;
  const prefix = token.slice(0, 80);
  if (!ALNUM.test(prefix)) return "the first 80 characters are not all [A-Za-z0-9]";
  if (token.slice(52, 56) !== CORE_SIGNATURE || token[56] !== "9")
    return `no core signature ${CORE_SIGNATURE}9 at characters 52–57`;
  const kind = KIND_CHARS[token[57]];
  if (!kind) return `key kind ${JSON.stringify(token[57])} at character 57 is not 9, D or H`;
  const yearIndex = BASE64.indexOf(token[58]);
  const month = token.charCodeAt(59) - 0x41 + 1;
  if (yearIndex < 0 || month < 1 || month > 12) return "the year or month characters (58, 59) are invalid";
  if (token.length === AZDO_LONG_LENGTH && !token.endsWith("==")) return "88 characters not ending in ==";
  return {
    format: "azdo-pat",
    kind,
    year: 2024 + yearIndex,
    month,
    provider: token.slice(76, 80),
    form: token.length === AZDO_LONG_LENGTH ? "long" : "short",
  };
}

/**
 * Parses the fixed fields of one of our keys; null when the text is not laid out as an AZDO key, or the
 * provider signature at 76–80 is not `AZDO` (the same layout with another one is another service's key).
 * The checksum is not checked.
 */
export function parseAzdoLayout(token: string): Layout | null {
  const layout = readLayout(token);
  return typeof layout === "string" || layout.provider !== PROVIDER_SIGNATURE ? null : layout;
}

/** Which of the two checksum forms `token` carries, or null when neither matches. */
function checksumForm(token: string, form: "short" | "long"): "base62" | "base64" | null {
  const prefix = token.slice(0, 80);
  const given = token.slice(80);
  // Evaluate both comparisons so the time does not depend on which generator wrote the key.
  const isCurrent = safeEqual(given, expectedChecksum(prefix)[form]);
  const isOlder = safeEqual(given, legacyGeneratorChecksum(prefix)[form]);
  return isCurrent ? "base62" : isOlder ? "base64" : null;
}

/** Why `token` is not a valid AZDO key (null when it is one), in words for `patrol token check`. */
export function azdoRejection(token: string): string | null {
  const layout = readLayout(token);
  if (typeof layout === "string") return layout;
  const checksum = checksumForm(token, layout.form);
  if (layout.provider !== PROVIDER_SIGNATURE)
    return `provider signature ${JSON.stringify(layout.provider)} at characters 76–80, not ${PROVIDER_SIGNATURE}: ${
      checksum ? "another service's key of the same family (its checksum is valid)" : "not one of our keys"
    }`;
  return checksum ? null : "the checksum does not match";
}

/**
 * Parses and validates an AZDO key (84 or 88 characters). Returns its fields, or null when the layout
 * or the checksum is wrong. The comparison of checksum characters is constant-time.
 */
export function parseAzdo(token: string): AzdoFields | null {
  const layout = parseAzdoLayout(token);
  if (!layout) return null;
  const checksumEncoding = checksumForm(token, layout.form);
  return checksumEncoding ? { ...layout, checksumEncoding } : null;
}

export interface MintAzdoOptions {
  /** Mint the 88-character long form. */
  long?: boolean;
  kind?: KeyKind;
  /** Defaults to now (UTC). */
  date?: Date;
  /** Four provider-reserved characters (default `AAAA`, three zero bytes). */
  providerReserved?: string;
}

/** Mints a new AZDO key from the CSPRNG. */
export function mintAzdo(options: MintAzdoOptions = {}): string {
  const date = options.date ?? new Date();
  const yearIndex = date.getUTCFullYear() - 2024;
  // Indexes 62 and 63 are "+" and "/", which the all-alphanumeric key cannot hold.
  if (yearIndex < 0 || yearIndex > 61)
    throw new RangeError("the key format encodes only the years 2024 to 2085");
  const providerReserved = options.providerReserved ?? "AAAA";
  if (!/^[A-Za-z0-9]{4}$/.test(providerReserved))
    throw new RangeError("providerReserved must be 4 base62 characters");
  let random = "";
  for (let i = 0; i < 52; i++) random += RANDOM_ALPHABET[randomInt(62)];
  const prefix =
    random +
    CORE_SIGNATURE +
    "9" +
    KIND_TO_CHAR[options.kind ?? "standard"] +
    BASE64[yearIndex] +
    String.fromCharCode(0x41 + date.getUTCMonth()) +
    "A".repeat(12) +
    providerReserved +
    PROVIDER_SIGNATURE;
  const checksum = expectedChecksum(prefix);
  return prefix + (options.long ? checksum.long : checksum.short);
}
