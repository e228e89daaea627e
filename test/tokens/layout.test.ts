/**
 * Token format edges that the checksum alone would hide. Written from mutation testing: each key below has a
 * valid checksum for its 80-character prefix, so only the layout check can reject it; and checksums with
 * leading zero bytes, which random keys reach once in 256 (one byte) or 65536 (two).
 */
import { describe, expect, it } from "vitest";
import { checksumBytes } from "../../src/tokens/azdo.js";
import {
  decodeLegacy,
  expectedChecksum,
  isWellFormed,
  mintAzdo,
  mintLegacy,
  parseAzdo,
  parseAzdoLayout,
  parseLegacy,
  parseToken,
  redact,
} from "../../src/tokens/index.js";
import { checkAzdo } from "../support/independent-formats.js";

/** Replaces the characters at `at` and closes the key with a checksum that is valid for the new prefix. */
function withValidChecksum(key: string, at: number, chars: string, long = false): string {
  const prefix = key.slice(0, at) + chars + key.slice(at + chars.length, 80);
  const checksum = expectedChecksum(prefix);
  return prefix + (long ? checksum.long : checksum.short);
}

const base = mintAzdo({ date: new Date(Date.UTC(2026, 4, 1)) });

describe("AZDO layout, with checksums that hold", () => {
  it("the helper's keys are valid when the layout is: the checksum is not what rejects the others", () => {
    expect(parseAzdo(withValidChecksum(base, 10, "Q"))).not.toBeNull();
    expect(parseAzdo(withValidChecksum(base, 10, "Q", true))).toMatchObject({ form: "long" });
  });

  it("rejects another core signature, and a 56th character other than 9", () => {
    for (const [at, chars] of [
      [52, "K"],
      [55, "K"],
      [52, "jqqj"],
      [56, "8"],
      [56, "D"],
    ] as const) {
      const key = withValidChecksum(base, at, chars);
      expect(parseAzdoLayout(key), `${chars} at ${at}`).toBeNull();
      expect(parseAzdo(key)).toBeNull();
      expect(parseToken(key)).toBeNull();
    }
  });

  it("reads the key kind, and rejects unknown kinds", () => {
    expect(parseAzdo(withValidChecksum(base, 57, "9"))?.kind).toBe("standard");
    expect(parseAzdo(withValidChecksum(base, 57, "D"))?.kind).toBe("derived");
    expect(parseAzdo(withValidChecksum(base, 57, "H"))?.kind).toBe("hashed");
    for (const kind of ["A", "8", "d", "h"]) expect(parseAzdo(withValidChecksum(base, 57, kind))).toBeNull();
  });

  it("reads the year and month, and rejects months outside A-L", () => {
    expect(parseAzdo(withValidChecksum(base, 58, "AA"))).toMatchObject({ year: 2024, month: 1 });
    expect(parseAzdo(withValidChecksum(base, 58, "CL"))).toMatchObject({ year: 2026, month: 12 });
    expect(parseAzdo(withValidChecksum(base, 58, "9F"))).toMatchObject({ year: 2024 + 61, month: 6 });
    for (const month of ["M", "Z", "a", "l", "0", "9"]) {
      expect(parseAzdo(withValidChecksum(base, 59, month)), month).toBeNull();
      expect(checkAzdo(withValidChecksum(base, 59, month)).valid).toBe(false);
    }
  });

  it("rejects a non-alphanumeric character anywhere in the first 80, first and last included", () => {
    for (const at of [0, 1, 40, 51, 79]) {
      for (const bad of ["-", "+", "/", "=", "é"]) {
        const key = base.slice(0, at) + bad + base.slice(at + 1);
        expect(parseAzdoLayout(key), `${bad} at ${at}`).toBeNull();
        expect(parseAzdo(key)).toBeNull();
      }
    }
  });

  it("takes only 84 or 88 characters, and the long form must end with ==", () => {
    const long = withValidChecksum(base, 10, "Q", true);
    for (const length of [0, 52, 80, 83, 85, 86, 87, 89, 120]) {
      const text = (base + base).slice(0, length);
      expect(parseAzdoLayout(text), `length ${length}`).toBeNull();
    }
    expect(parseAzdoLayout(`${base}AAAA`)).toBeNull(); // 88 characters, not ending ==
    expect(parseAzdoLayout(`${base}AA==`)).toMatchObject({ form: "long" });
    expect(parseAzdoLayout(`${long.slice(0, 86)}A=`)).toBeNull();
    expect(parseAzdoLayout(`${long.slice(0, 86)}=A`)).toBeNull();
    expect(parseAzdoLayout(base)).toMatchObject({ form: "short", provider: "AZDO" });
  });
});

describe("AZDO checksums with leading zero bytes", () => {
  /** Prefixes whose checksum starts with one and two zero bytes (found by searching random keys). */
  const PREFIXES = {
    1: "icv6oDvWOFxteQmIPm3zKVIR11xC4Sq4qLq22MfzqU4ZBYEcvFINJQQJ99CEAAAAAAAAAAAAAAAAAZDO",
    2: "cysFaqEJdW5ZiI58mgQCUGVIqeNkDThM1exkwGXB6SxvMaN3m7tUJQQJ99CEAAAAAAAAAAAAAAAAAZDO",
  };

  it("writes one leading 0 per leading zero byte, as the independent implementation does", () => {
    for (const zeros of [1, 2] as const) {
      const prefix = PREFIXES[zeros];
      const le = checksumBytes(prefix);
      expect([...le.subarray(0, zeros + 1)].map((b) => b === 0)).toEqual([...Array(zeros).fill(true), false]);
      const { short, long } = expectedChecksum(prefix);
      expect(short.startsWith("0".repeat(zeros)), `${zeros}: ${short}`).toBe(true);
      for (const key of [prefix + short, prefix + long]) {
        expect(checkAzdo(key).valid).toBe(true);
        expect(parseAzdo(key)).toMatchObject({ checksumEncoding: "base62" });
      }
      // Without the leading zeros the checksum is wrong.
      const dropped = `${short.slice(zeros)}${"0".repeat(zeros)}`;
      expect(parseAzdo(prefix + dropped)).toBeNull();
    }
  });
});

describe("minting AZDO keys", () => {
  it("refuses years the format cannot encode and bad provider-reserved characters, saying why", () => {
    expect(() => mintAzdo({ date: new Date(Date.UTC(2023, 11, 31)) })).toThrow(/years 2024 to 2085/);
    expect(() => mintAzdo({ date: new Date(Date.UTC(2086, 0, 1)) })).toThrow(/years 2024 to 2085/);
    expect(mintAzdo({ date: new Date(Date.UTC(2085, 11, 31)) })[58]).toBe("9");
    for (const bad of ["AAA", "AAAAA", "-AAA", "AAA-", "AA A", ""]) {
      expect(() => mintAzdo({ providerReserved: bad }), JSON.stringify(bad)).toThrow(
        /providerReserved must be 4 base62 characters/,
      );
    }
    expect(mintAzdo({ providerReserved: "Zz09" }).slice(72, 80)).toBe("Zz09AZDO");
  });
});

describe("legacy tokens", () => {
  const token = mintLegacy();

  it("decodes only exactly 52 characters", () => {
    expect(decodeLegacy(token)).toHaveLength(32);
    for (const text of [token.slice(0, 51), `${token}a`, `${token}${token}`, ""]) {
      expect(decodeLegacy(text), `length ${text.length}`).toBeNull();
      expect(parseLegacy(text)).toBeNull();
    }
  });

  it("rejects characters outside a-z2-7, including ones whose low byte is a base32 letter", () => {
    for (const bad of ["A", "0", "1", "8", "9", "=", "\u0161" /* š: 0x161, low byte "a" */, "\u0132"]) {
      const text = `${token.slice(0, 20)}${bad}${token.slice(21)}`;
      expect(decodeLegacy(text), JSON.stringify(bad)).toBeNull();
      expect(parseLegacy(text)).toBeNull();
      expect(parseToken(text)).toBeNull();
    }
  });
});

describe("isWellFormed and redact", () => {
  it("accepts valid keys of both formats and rejects a legacy token whose checksum fails", () => {
    expect(isWellFormed(mintAzdo())).toBe(true);
    expect(isWellFormed(mintAzdo({ long: true }))).toBe(true);
    expect(isWellFormed(mintLegacy())).toBe(true);
    expect(isWellFormed(mintLegacy("application"))).toBe(true);
    // A canonical base32 string with a wrong checksum: parsed, but not well formed.
    let failing = mintLegacy();
    failing = `${failing.slice(0, 10)}${failing[10] === "a" ? "b" : "a"}${failing.slice(11)}`;
    expect(parseLegacy(failing)).toMatchObject({ checksumValid: false, kind: null });
    expect(isWellFormed(failing)).toBe(false);
    expect(isWellFormed("nope")).toBe(false);
  });

  it("redacts to the first and last 4 characters, and hides short texts entirely", () => {
    expect(redact("abcdefghijklm")).toBe("abcd…jklm");
    expect(redact("abcdefghijkl")).toBe("…");
    expect(redact("abc")).toBe("…");
    expect(redact("")).toBe("…");
  });
});
