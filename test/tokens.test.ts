import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  expectedChecksum,
  fingerprint,
  isWellFormed,
  marvin32,
  marvin64,
  mintAzdo,
  mintLegacy,
  parseAzdo,
  parseAzdoLayout,
  parseLegacy,
  parseToken,
  redact,
  tokenRejection,
} from "../src/tokens/index.js";
import { checkAzdo, checkLegacy, marvin } from "./support/independent-formats.js";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

describe("Marvin", () => {
  it("matches the reference Marvin64 of 'abc'", () => {
    expect(marvin64(Buffer.from("abc"), 0xd53cd9cecd0893b7n)).toBe(0x22c74339492769bfn);
  });

  it("agrees with the independent BigInt implementation on random inputs", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (data, seed) => {
          const { p0, p1 } = marvin(data, seed);
          expect(marvin32(data, seed)).toBe(Number(p0 ^ p1));
        },
      ),
    );
  });
});

describe("AZDO keys", () => {
  it("computes the known checksums", () => {
    expect(expectedChecksum(`${"x".repeat(52)}JQQJ99BC${"A".repeat(16)}AZDO`).short).toBe("1xwm");
    expect(expectedChecksum(`${"A".repeat(52)}JQQJ99AG${"A".repeat(16)}AZDO`).short).toBe("31s1");
  });

  it("validates the known answers and their long forms", () => {
    const prefix = `${"x".repeat(52)}JQQJ99BC${"A".repeat(16)}AZDO`;
    expect(parseAzdo(`${prefix}1xwm`)).toMatchObject({
      year: 2025,
      month: 3,
      kind: "standard",
      form: "short",
    });
    const long = `${prefix}${expectedChecksum(prefix).long}`;
    expect(long).toHaveLength(88);
    expect(long.startsWith(`${prefix}1xwm`) && long.endsWith("==")).toBe(true);
    expect(parseAzdo(long)?.form).toBe("long");
    expect(parseAzdo(`${prefix}1xwn`)).toBeNull();
  });

  it("accepts keys from older generators (base64 checksum) but never mints them", () => {
    const prefix = `${"A".repeat(52)}JQQJ99AG${"A".repeat(16)}AZDO`;
    // Derive the older form independently and check patrol accepts it.
    const h = marvin(Buffer.from(prefix, "base64"), 0x44656661756c7430n);
    const le = Buffer.alloc(4);
    le.writeUInt32LE(Number(h.p0 ^ h.p1));
    const olderShort = `${prefix}${le.subarray(0, 3).toString("base64")}`;
    const olderLong = `${prefix}${le.toString("base64")}`;
    expect(parseAzdo(olderShort)?.checksumEncoding).toBe("base64");
    expect(parseAzdo(olderLong)?.checksumEncoding).toBe("base64");
    expect(parseAzdo(mintAzdo())?.checksumEncoding).toBe("base62");
  });

  it("every minted key validates and parses back to its fields (property)", () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("2024-01-01T00:00:00Z"),
          max: new Date("2085-12-31T23:59:59Z"),
          noInvalidDate: true,
        }),
        fc.boolean(),
        fc.constantFrom("standard", "derived", "hashed" as const),
        (date, long, kind) => {
          const token = mintAzdo({ date, long, kind });
          expect(token).toHaveLength(long ? 88 : 84);
          expect(parseAzdo(token)).toEqual({
            format: "azdo-pat",
            kind,
            year: date.getUTCFullYear(),
            month: date.getUTCMonth() + 1,
            provider: "AZDO",
            form: long ? "long" : "short",
            checksumEncoding: "base62",
          });
          expect(checkAzdo(token)).toMatchObject({ valid: true, year: date.getUTCFullYear(), kind });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("changing any one of the first 80 characters fails validation (exhaustive over samples)", () => {
    for (let sample = 0; sample < 3; sample++) {
      const token = mintAzdo({ long: sample === 2 });
      for (let i = 0; i < 80; i++) {
        for (const c of ALNUM) {
          if (c === token[i]) continue;
          const changed = token.slice(0, i) + c + token.slice(i + 1);
          if (parseAzdo(changed) !== null) throw new Error(`changed character ${i} to ${c} still validates`);
        }
      }
    }
  });

  it("rejects malformed layouts", () => {
    const token = mintAzdo();
    expect(parseAzdo(token.slice(0, 83))).toBeNull();
    expect(parseAzdo(`${token}x`)).toBeNull();
    expect(parseAzdo(`${token.slice(0, 57)}X${token.slice(58)}`)).toBeNull(); // kind
    expect(parseAzdo(`${token.slice(0, 59)}M${token.slice(60)}`)).toBeNull(); // month
    expect(parseAzdo(`${token.slice(0, 10)}-${token.slice(11)}`)).toBeNull();
  });

  it("requires the AZDO provider signature at 76–80, in both forms", () => {
    const ours = mintAzdo();
    for (const long of [false, true]) {
      const prefix = `${ours.slice(0, 76)}ABCD`;
      const foreign = prefix + expectedChecksum(prefix)[long ? "long" : "short"];
      // Checksum-valid by the independent routine (which looks at the checksum only): the signature alone decides.
      expect(checkAzdo(foreign).valid).toBe(true);
      expect(parseAzdo(foreign)).toBeNull();
      expect(parseAzdoLayout(foreign)).toBeNull();
      expect(isWellFormed(foreign)).toBe(false);
      expect(tokenRejection(foreign)).toBe(
        'provider signature "ABCD" at characters 76–80, not AZDO: another service\'s key of the same family (its checksum is valid)',
      );
      // A wrong checksum as well: not called another service's key.
      expect(tokenRejection(`${foreign.slice(0, 80)}0000${foreign.slice(84)}`)).toContain(
        "not one of our keys",
      );
    }
    expect(parseAzdoLayout(ours)?.provider).toBe("AZDO");
    expect(tokenRejection(ours)).toBeNull();
    expect(tokenRejection(`${ours.slice(0, 80)}${ours[80] === "A" ? "B" : "A"}${ours.slice(81)}`)).toBe(
      "the checksum does not match",
    );
    expect(tokenRejection(ours.slice(1))).toBe("83 characters, not 84 or 88");
    expect(tokenRejection(mintLegacy())).toBeNull();
  });

  it("refuses to mint outside the encodable years", () => {
    expect(() => mintAzdo({ date: new Date("2023-12-31T00:00:00Z") })).toThrow(RangeError);
    expect(() => mintAzdo({ date: new Date("2086-01-01T00:00:00Z") })).toThrow(RangeError);
  });
});

describe("legacy tokens", () => {
  it("mints valid user and application tokens", () => {
    for (const kind of ["user", "application"] as const) {
      const token = mintLegacy(kind);
      expect(token).toMatch(/^[a-z2-7]{52}$/);
      expect(parseLegacy(token)).toEqual({ format: "azdo-pat-legacy", kind, checksumValid: true });
      expect(checkLegacy(token)).toMatchObject({ valid: true, kind });
    }
  });

  it("changing any one character fails the checksum or the decoding (exhaustive over samples)", () => {
    for (let sample = 0; sample < 5; sample++) {
      const token = mintLegacy(sample % 2 ? "user" : "application");
      for (let i = 0; i < 52; i++) {
        for (const c of BASE32) {
          if (c === token[i]) continue;
          const changed = token.slice(0, i) + c + token.slice(i + 1);
          if (parseLegacy(changed)?.checksumValid) throw new Error(`changed character ${i} still validates`);
        }
      }
    }
  });

  it("reports checksum-failing candidates without calling them valid", () => {
    expect(parseLegacy("a".repeat(52))).toEqual({
      format: "azdo-pat-legacy",
      kind: null,
      checksumValid: false,
    });
    expect(parseLegacy(`${"a".repeat(51)}b`)).toBeNull(); // non-zero pad bits
    expect(parseLegacy("A".repeat(52))).toBeNull();
  });
});

describe("fingerprint and redaction", () => {
  it("fingerprints with SHA-256 hex and redacts to 4…4", () => {
    const token = mintAzdo();
    expect(fingerprint(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprint("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(redact(token)).toBe(`${token.slice(0, 4)}…${token.slice(-4)}`);
    expect(redact(token)).not.toContain(token.slice(4, 80));
  });

  it("parseToken and isWellFormed cover both formats", () => {
    expect(parseToken(mintAzdo())?.format).toBe("azdo-pat");
    expect(parseToken(mintLegacy())?.format).toBe("azdo-pat-legacy");
    expect(isWellFormed(mintLegacy())).toBe(true);
    expect(isWellFormed("a".repeat(52))).toBe(false);
    expect(isWellFormed("hello")).toBe(false);
  });
});
