/** Token formats: mint, parse, validate, fingerprint, redact. */
import { type AzdoFields, azdoRejection, parseAzdo } from "./azdo.js";
import { LEGACY_LENGTH, type LegacyFields, parseLegacy } from "./legacy.js";

export {
  AZDO_LENGTH,
  AZDO_LONG_LENGTH,
  type AzdoFields,
  azdoRejection,
  CORE_SIGNATURE,
  expectedChecksum,
  type KeyKind,
  type MintAzdoOptions,
  mintAzdo,
  PROVIDER_SIGNATURE,
  parseAzdo,
  parseAzdoLayout,
} from "./azdo.js";
export { fingerprint, redact } from "./fingerprint.js";
export {
  decodeLegacy,
  LEGACY_LENGTH,
  type LegacyFields,
  type LegacyKind,
  mintLegacy,
  parseLegacy,
} from "./legacy.js";
export { marvin32, marvin64 } from "./marvin.js";

export type TokenFormat = "azdo-pat" | "azdo-pat-legacy";
export type TokenFields = AzdoFields | LegacyFields;

/**
 * Recognises either format. AZDO keys are returned only when their checksum holds; legacy tokens are
 * returned with `checksumValid` because their checksum is not authoritative.
 */
export function parseToken(token: string): TokenFields | null {
  return parseAzdo(token) ?? parseLegacy(token);
}

/** True when the token is one of ours with a valid checksum (what a caller should accept to look up). */
export function isWellFormed(token: string): boolean {
  const fields = parseToken(token);
  return fields !== null && (fields.format === "azdo-pat" || fields.checksumValid);
}

/** Why `token` is not one of ours with a valid checksum, in words; null when it is. */
export function tokenRejection(token: string): string | null {
  if (token.length === LEGACY_LENGTH) {
    const legacy = parseLegacy(token);
    if (!legacy) return "52 characters, but not all lowercase base32 [a-z2-7]";
    return legacy.checksumValid ? null : "the legacy checksum does not match";
  }
  return azdoRejection(token);
}
