/**
 * The detector's byte-level primitives on exact ranges: skip-scanned runs in a sub-range, base64 runs and
 * the `Basic ` rule within [lo, hi), URL userinfo within [lo, …), and matchesAt at the buffer's edges.
 */
import { describe, expect, it } from "vitest";
import { BASE64, matchesAt } from "../../src/detect/byte-classes.js";
import { base64Encoding, base64RunAround } from "../../src/detect/codec/base64.js";
import { isUrlUserinfo } from "../../src/detect/codec/url.js";
import { forEachRun } from "../../src/detect/runs.js";
import { fingerprint, mintAzdo } from "../../src/tokens/index.js";
import { b64, scanText } from "../support/detect.js";

const buf = (s: string) => Buffer.from(s, "latin1");

function runs(s: string, start: number, end: number, minLength: number): [number, number][] {
  const out: [number, number][] = [];
  forEachRun(buf(s), start, end, BASE64, minLength, (a, b) => out.push([a, b]));
  return out;
}

describe("forEachRun", () => {
  it("finds maximal runs of at least minLength, and no shorter ones", () => {
    expect(runs("AAAA-AAAAAA.AAA", 0, 15, 4)).toEqual([
      [0, 4],
      [5, 11],
    ]);
    expect(runs("AAA-AAAA", 0, 8, 4)).toEqual([[4, 8]]);
    expect(runs("A-AA-AAA-", 0, 9, 4)).toEqual([]);
    expect(runs("A.A.A.A.AAAA", 0, 12, 4)).toEqual([[8, 12]]);
  });

  it("clips runs to the sub-range [start, end)", () => {
    const a = "A".repeat(100);
    expect(runs(a, 60, 100, 10)).toEqual([[60, 100]]);
    expect(runs(a, 0, 50, 10)).toEqual([[0, 50]]);
    expect(runs(a, 20, 30, 10)).toEqual([[20, 30]]);
    expect(runs(a, 20, 29, 10)).toEqual([]);
    expect(runs("----AAAA", 0, 7, 4)).toEqual([]);
  });
});

describe("base64RunAround and base64Encoding", () => {
  it("extends a run no further than [lo, hi)", () => {
    const b = buf("AAAA AAAAAAAA BB");
    expect(base64RunAround(b, 7, 0, b.length)).toEqual([5, 13]);
    expect(base64RunAround(b, 7, 6, b.length)).toEqual([6, 13]);
    expect(base64RunAround(b, 7, 0, 10)).toEqual([5, 10]);
    expect(base64RunAround(b, 4, 0, b.length)).toEqual([0, 4]);
  });

  it("says basic-auth after `Basic ` (any case, spaces and tabs), only when all of it is at or after lo", () => {
    const b = buf("Authorization: bAsIc \t QUJD");
    const run = b.indexOf("QUJD");
    expect(base64Encoding(b, run, 0)).toBe("basic-auth");
    expect(base64Encoding(b, run, run - 8)).toBe("basic-auth");
    expect(base64Encoding(b, run, run - 7)).toBe("base64");
    expect(base64Encoding(b, run, run)).toBe("base64");
    expect(base64Encoding(buf("Basic QUJD"), 6, 0)).toBe("basic-auth");
    expect(base64Encoding(buf("asic QUJD"), 5, 0)).toBe("base64");
    expect(base64Encoding(buf("Basics QUJD"), 7, 0)).toBe("base64");
    expect(base64Encoding(buf("Basic:QUJD"), 6, 0)).toBe("base64");
  });
});

describe("isUrlUserinfo", () => {
  const T = "TOKEN";
  const check = (s: string, lo = 0) => {
    const b = buf(s);
    const start = b.indexOf(T);
    return isUrlUserinfo(b, start, start + T.length, lo);
  };

  it("is the user or password of an authority after `scheme://`, followed by `@`", () => {
    expect(check(`https://build:${T}@h`)).toBe(true);
    expect(check(`https://${T}@h`)).toBe(true);
    expect(check(`https://u.s-e_r~%21:${T}@h`)).toBe(true);
    expect(check(`https://build:${T}:h`)).toBe(false);
    expect(check(`//build:${T}@h`)).toBe(false);
    expect(check(`x/build:${T}@h`)).toBe(false);
    expect(check(`https://bu/ld:${T}@h`)).toBe(false);
    expect(check(`https://${"u".repeat(600)}:${T}@h`)).toBe(false);
  });

  it("looks no further back than lo", () => {
    const s = `https://build:${T}@h`;
    expect(check(s, s.indexOf(":"))).toBe(true);
    expect(check(s, s.indexOf("/"))).toBe(false);
    expect(check(s, s.indexOf("/") + 1)).toBe(false);
    expect(check(s, s.indexOf("b") + 2)).toBe(false);
    expect(check(s, s.indexOf(T))).toBe(false);
  });
});

describe("matchesAt", () => {
  it("is false when the text would stick out of the buffer on either side", () => {
    const b = buf("abc");
    expect(matchesAt(b, 0, buf("abc"))).toBe(true);
    expect(matchesAt(b, 1, buf("bc"))).toBe(true);
    expect(matchesAt(b, 2, buf("cd"))).toBe(false);
    expect(matchesAt(b, -1, buf("ab"))).toBe(false);
    expect(matchesAt(b, 1, buf("bd"))).toBe(false);
  });
});

describe("encoded keys through the signature's renderings (legacy tokens off)", () => {
  it("finds a base64 key whose run has stray characters before its groups", () => {
    const key = mintAzdo();
    for (const stray of ["", "z", "zz", "zzz"]) {
      const found = scanText(`v: ${stray}${b64(`pat:${key}`)}`, { legacy: false });
      expect(
        found.map((f) => `${f.fingerprint === fingerprint(key)} ${f.encoding}`),
        `stray ${stray}`,
      ).toEqual(["true base64"]);
    }
  });
});
