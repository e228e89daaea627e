/**
 * The key finder's window and boundary rules on exact byte ranges (azdoKeyAt, findAzdoKeys), and the legacy
 * finder's near misses: where a candidate may start and end, what may touch it, and what is not a token.
 */
import { describe, expect, it } from "vitest";
import { azdoKeyAt, findAzdoKeys } from "../../src/detect/azdo-scan.js";
import { findLegacyTokens, findLegacyTokensInSpan } from "../../src/detect/legacy-scan.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { scanText } from "../support/detect.js";

const key = mintAzdo();
const long = mintAzdo({ long: true });
const buf = (s: string) => Buffer.from(s, "latin1");

function keysIn(bytes: Buffer, lo: number, hi: number): string[] {
  const out: string[] = [];
  findAzdoKeys(bytes, lo, hi, (m) =>
    out.push(`${m.start}:${m.token === key ? "key" : m.token === long ? "long" : "?"}`),
  );
  return out;
}

describe("azdoKeyAt and findAzdoKeys: the window [lo, hi)", () => {
  it("finds a key that fills the window exactly, and none when the window is a byte short", () => {
    const b = buf(`xx${key}yy`);
    expect(azdoKeyAt(b, 2, 2, 86)).toBe(key);
    expect(keysIn(b, 2, 86)).toEqual(["2:key"]);
    expect(azdoKeyAt(b, 2, 2, 85)).toBeNull();
    expect(keysIn(b, 2, 85)).toEqual([]);
    expect(keysIn(b, 3, 86)).toEqual([]);
    expect(azdoKeyAt(b, 2, 3, 86)).toBeNull();
  });

  it("does not look before lo for the left boundary, nor at or after hi for the right one", () => {
    // A letter touches the key on both sides, outside the window: the window's edges are the boundaries.
    const b = buf(`a${key}b`);
    expect(azdoKeyAt(b, 1, 1, 85)).toBe(key);
    expect(azdoKeyAt(b, 1, 0, 85)).toBeNull();
    expect(azdoKeyAt(b, 1, 1, 86)).toBeNull();
    expect(keysIn(b, 1, 85)).toEqual(["1:key"]);
    expect(keysIn(b, 0, 86)).toEqual([]);
  });

  it("takes the long form only when all 88 characters are in the window", () => {
    const b = buf(` ${long} `);
    expect(azdoKeyAt(b, 1, 0, 90)).toBe(long);
    expect(azdoKeyAt(b, 1, 0, 89)).toBe(long);
    // 87 bytes: the long form does not fit, and its 85th character forbids the short one.
    expect(azdoKeyAt(b, 1, 0, 88)).toBeNull();
    // 84 bytes: the short form (the long one's first 84 characters) is a key of its own.
    expect(azdoKeyAt(b, 1, 0, 85)).toBe(long.slice(0, 84));
  });

  it("wants both `=` and two base64 characters before them for the long form", () => {
    for (const bad of [
      `${long.slice(0, 86)}=x`,
      `${long.slice(0, 86)}x=`,
      `${long.slice(0, 85)}.${long.slice(86)}`,
    ]) {
      const b = buf(` ${bad} `);
      expect(azdoKeyAt(b, 1, 0, b.length), bad.slice(80)).toBeNull();
    }
    // Not base64 at 84: the long form is out, and the short key before it stands alone.
    expect(azdoKeyAt(buf(` ${long.slice(0, 84)}.${long.slice(85)} `), 1, 0, 90)).toBe(long.slice(0, 84));
    // `+` and `/` are base64: a short key followed by one is judged on its own (not alphanumeric).
    expect(azdoKeyAt(buf(`${key}+`), 0, 0, 85)).toBe(key);
    // What only starts like a long form (`+` then not two base64 characters and `==`) leaves the short key.
    expect(azdoKeyAt(buf(`${key}+.==`), 0, 0, 88)).toBe(key);
    expect(azdoKeyAt(buf(`${key}+x.=`), 0, 0, 88)).toBe(key);
    expect(azdoKeyAt(buf(`${key}+x=.`), 0, 0, 88)).toBe(key);
    expect(azdoKeyAt(buf(`${key}/x=.`), 0, 0, 88)).toBe(key);
  });

  it("rejects a key with a non-alphanumeric byte in its first 80, or a wrong kind at 57", () => {
    for (const at of [0, 40, 51, 79]) {
      const t = `${key.slice(0, at)}-${key.slice(at + 1)}`;
      expect(azdoKeyAt(buf(t), 0, 0, 84), `dash at ${at}`).toBeNull();
    }
    for (const kind of ["9", "D", "H", "A", "Z"]) {
      const t = `${key.slice(0, 57)}${kind}${key.slice(58)}`;
      // Another kind changes the checksum too: only the real one parses; the rest must not throw or match.
      expect(azdoKeyAt(buf(t), 0, 0, 84)).toBe(t === key ? key : null);
    }
    // A checksum character outside base64.
    expect(azdoKeyAt(buf(`${key.slice(0, 82)}.${key.slice(83)}`), 0, 0, 84)).toBeNull();
  });

  it("finds every key when signatures repeat, and keys that overlap none", () => {
    const k2 = mintAzdo();
    const b = buf(`${key} ${k2},${key}`);
    const out: number[] = [];
    findAzdoKeys(b, 0, b.length, (m) => out.push(m.start));
    expect(out).toEqual([0, 85, 170]);
  });
});

describe("legacy tokens: exactly 52 of [a-z2-7], no more", () => {
  const legacy = mintLegacy();
  const spans = (s: string) => {
    const b = buf(s);
    const out: number[] = [];
    findLegacyTokensInSpan(b, 0, b.length, (m) => out.push(m.start));
    findLegacyTokens(b, 0, b.length, (m) => out.push(-m.start - 1));
    return out;
  };

  it("reports a candidate only for a maximal run of exactly 52", () => {
    expect(spans(legacy)).toEqual([0, -1]);
    expect(spans(`A${legacy}B`)).toEqual([1, -2]);
    expect(spans(`${legacy}a`)).toEqual([]);
    expect(spans(`a${legacy}`)).toEqual([]);
    expect(spans(legacy.slice(1))).toEqual([]);
  });

  it("starts no run before the first byte of the class, nor after a short run", () => {
    // Runs of other base64 characters, and a short run first: nothing may be taken for a 52-run.
    expect(spans("A".repeat(120))).toEqual([]);
    expect(spans(`b${"A".repeat(120)}`)).toEqual([]);
    expect(spans(`bcd${"A".repeat(60)}ef${"B".repeat(60)}`)).toEqual([]);
  });

  it("with candidates on and base64 off, a run of 53 is no candidate", () => {
    const opts = { encoded: false, legacyCandidates: true };
    expect(scanText(`${legacy}a`, opts)).toEqual([]);
    expect(scanText(`x ${"a".repeat(52)} y`, opts).map((f) => f.checksumValid)).toEqual([false]);
    expect(scanText(` ${legacy} `, opts).map((f) => f.fingerprint)).toEqual([fingerprint(legacy)]);
  });
});
