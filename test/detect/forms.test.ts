/**
 * The detector's options and the edges of each encoded form, on small inputs. Written from mutation testing:
 * the base64 path taken when legacy tokens are off (through the signature's renderings), the decode depth
 * limit, the `Basic` prefix in its spellings, URL userinfo with every character a user name may hold, and a
 * diff's `+` marker before a base64 run.
 */
import { describe, expect, it } from "vitest";
import type { Finding } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { b64, scanDiff, scanText } from "../support/detect.js";

const brief = (findings: Finding[], labels: Record<string, string>) => {
  const byHash = new Map(Object.entries(labels).map(([label, token]) => [fingerprint(token), label]));
  return findings.map(
    (f) =>
      `${byHash.get(f.fingerprint) ?? "?"} ${f.format} ${f.encoding} ${f.checksumValid} ${f.line}:${f.column}`,
  );
};

describe("options", () => {
  const azdo = mintAzdo();
  const legacy = mintLegacy();
  const encodedAzdo = mintAzdo();
  const encodedLegacy = mintLegacy();
  const urlAzdo = mintAzdo();
  let broken = mintLegacy();
  broken = `${broken.slice(0, 30)}${broken[30] === "a" ? "b" : "a"}${broken.slice(31)}`;
  const labels = { azdo, legacy, encodedAzdo, encodedLegacy, urlAzdo, broken };
  const text = [
    `a: ${azdo}`,
    `l: ${legacy}`,
    `e: ${b64(`u:${encodedAzdo}`)}`,
    `Authorization: Basic ${b64(`:${encodedLegacy}`)}`,
    `git: https://ci:${urlAzdo}@dev.azure.com/o/_git/r`,
    `b: ${broken}`,
  ].join("\n");

  it("all on (the default) finds every form; legacy candidates only when asked", () => {
    expect(brief(scanText(text), labels)).toEqual([
      "azdo azdo-pat plain true 1:4",
      "legacy azdo-pat-legacy plain true 2:4",
      "encodedAzdo azdo-pat base64 true 3:4",
      "encodedLegacy azdo-pat-legacy basic-auth true 4:22",
      "urlAzdo azdo-pat url true 5:17",
    ]);
    expect(brief(scanText(text, { legacyCandidates: true }), labels)).toContain(
      "broken azdo-pat-legacy plain false 6:4",
    );
  });

  it("each format and the encoded forms can be switched off", () => {
    expect(brief(scanText(text, { legacy: false }), labels)).toEqual([
      "azdo azdo-pat plain true 1:4",
      "encodedAzdo azdo-pat base64 true 3:4",
      "urlAzdo azdo-pat url true 5:17",
    ]);
    expect(brief(scanText(text, { azdo: false }), labels)).toEqual([
      "legacy azdo-pat-legacy plain true 2:4",
      "encodedLegacy azdo-pat-legacy basic-auth true 4:22",
    ]);
    // Without encoded forms a key in a URL is still found, as plain text.
    expect(brief(scanText(text, { encoded: false }), labels)).toEqual([
      "azdo azdo-pat plain true 1:4",
      "legacy azdo-pat-legacy plain true 2:4",
      "urlAzdo azdo-pat plain true 5:17",
    ]);
    expect(brief(scanText(text, { encoded: false, legacy: false }), labels)).toEqual([
      "azdo azdo-pat plain true 1:4",
      "urlAzdo azdo-pat plain true 5:17",
    ]);
    expect(scanText(text, { azdo: false, legacy: false })).toEqual([]);
  });
});

describe("base64-encoded keys through the signature's renderings (legacy tokens off)", () => {
  it("finds a key at each of the three alignments, in text and on a diff's added line", () => {
    for (const lead of ["", "a", "ab", "abc", "abcd", "abcde"]) {
      const key = mintAzdo();
      const long = mintAzdo({ long: true });
      const encoded = b64(`${lead}:${key}:${long}`);
      const keyColumn = Math.floor((lead.length + 1) / 3) * 4 + 1;
      const longColumn = Math.floor((lead.length + 2 + key.length) / 3) * 4 + 1;
      const labels = { key, long };
      const want = [`key azdo-pat base64 true 1:${keyColumn}`, `long azdo-pat base64 true 1:${longColumn}`];
      expect(brief(scanText(encoded, { legacy: false }), labels), `lead ${lead.length}`).toEqual(want);
      // The same with the legacy path for comparison: the renderings must agree with full decoding.
      expect(brief(scanText(encoded), labels)).toEqual(want);
      const diff = `--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+${encoded}\n`;
      expect(brief(scanDiff(diff, { legacy: false }), labels), `diff, lead ${lead.length}`).toEqual(want);
    }
  });

  it("a `+` opening a diff line is a marker, while a `+` inside the run is base64", () => {
    // Were the marker read as base64, the run would start one character early and decode to other bytes.
    const key = mintAzdo();
    const encoded = b64(`>${key}`);
    expect(encoded[0]).toBe("P");
    for (const legacy of [true, false]) {
      const diff = `--- a/f\n+++ b/f\n@@ -0,0 +1,2 @@\n+${encoded}\n+x ${encoded}\n`;
      expect(brief(scanDiff(diff, { legacy }), { key }), `legacy ${legacy}`).toEqual([
        "key azdo-pat base64 true 1:1",
        "key azdo-pat base64 true 2:3",
      ]);
    }
  });

  it("a key that only starts in the encoded text, or runs past its end, is not reported", () => {
    const key = mintAzdo();
    const encoded = b64(`:${key}`);
    for (const legacy of [true, false]) {
      expect(scanText(encoded.slice(0, 100), { legacy }), `cut end, legacy ${legacy}`).toEqual([]);
      expect(scanText(`x${encoded.slice(8)}`, { legacy }), `cut start, legacy ${legacy}`).toEqual([]);
    }
  });
});

describe("decode depth", () => {
  it("follows base64 inside base64 (a Kubernetes secret's docker config), and no deeper", () => {
    const key = mintAzdo();
    const once = b64(`{"auth":"${b64(`u:${key}`)}"}`);
    const deeper = b64(`x:${b64(`{"auth":"${b64(`u:${key}`)}"}`)}`);
    expect(scanText(`data: ${once}`).map((f) => [f.fingerprint, f.encoding, f.column])).toEqual([
      [fingerprint(key), "base64", 7 + Math.floor(9 / 3) * 4],
    ]);
    expect(scanText(`data: ${deeper}`)).toEqual([]);
  });
});

describe("the Basic prefix", () => {
  const token = mintLegacy();
  const encoded = b64(`:${token}`);
  const encodingOf = (text: string) => scanText(text).map((f) => `${f.encoding}:${f.column}`);

  it("in any case, after spaces or tabs; not glued to the run, not another word", () => {
    expect(encodingOf(`Authorization: Basic ${encoded}`)).toEqual(["basic-auth:22"]);
    expect(encodingOf(`authorization: basic ${encoded}`)).toEqual(["basic-auth:22"]);
    expect(encodingOf(`BASIC\t${encoded}`)).toEqual(["basic-auth:7"]);
    expect(encodingOf(`Basic  \t ${encoded}`)).toEqual(["basic-auth:10"]);
    expect(encodingOf(`Basic ${encoded}`)).toEqual(["basic-auth:7"]); // at the very start
    expect(encodingOf(`Basi ${encoded}`)).toEqual(["base64:6"]);
    expect(encodingOf(`asic ${encoded}`)).toEqual(["base64:6"]);
    expect(encodingOf(`Bearer ${encoded}`)).toEqual(["base64:8"]);
    expect(encodingOf(`Basic:${encoded}`)).toEqual(["base64:7"]);
    expect(encodingOf(` ${encoded}`)).toEqual(["base64:2"]);
    expect(encodingOf(encoded)).toEqual(["base64:1"]);
  });
});

describe("URL userinfo", () => {
  const key = mintAzdo();
  const encodingOf = (text: string) => scanText(text).map((f) => `${f.encoding}:${f.column}`);

  it("a user name of any character RFC 3986 allows there", () => {
    for (const user of [
      "a-b",
      "a.b",
      "a_b",
      "a~b",
      "a%40b",
      "a!b",
      "a$b",
      "a&b",
      "a'b",
      "a(b)",
      "a*b",
      "a+b",
      "a,b",
      "a;b",
      "a=b",
      "AZaz09",
    ]) {
      const prefix = `https://${user}:`;
      expect(encodingOf(`${prefix}${key}@host/x`), user).toEqual([`url:${prefix.length + 1}`]);
    }
    expect(encodingOf(`https://${key}@host/x`)).toEqual(["url:9"]);
  });

  it("not when the user name holds a character it may not, or the `//` or scheme is missing", () => {
    for (const user of ["a b", "a/b", 'a"b', "a<b", "a@b", "a[b", "a|b"]) {
      expect(encodingOf(`https://${user}:${key}@host/x`), user).toEqual([
        `plain:${`https://${user}:`.length + 1}`,
      ]);
    }
    expect(encodingOf(`https:/u:${key}@h`)).toEqual(["plain:10"]);
    expect(encodingOf(`//u:${key}@h`)).toEqual(["plain:5"]);
    expect(encodingOf(`https//u:${key}@h`)).toEqual(["plain:10"]);
    expect(encodingOf(`https://u:${key}#h`)).toEqual(["plain:11"]);
    expect(encodingOf(`u:${key}@h`)).toEqual(["plain:3"]);
  });
});

describe("where a key ends", () => {
  const key = mintAzdo();
  const long = mintAzdo({ long: true });
  const labels = { key, long, longPrefix: long.slice(0, 84) };
  const found = (text: string) => brief(scanText(text), labels).map((l) => l.split(" ").slice(0, 1)[0]);

  it("a short key ends at a non-alphanumeric byte or the end of the input; `==` alone is not a long form", () => {
    expect(found(key)).toEqual(["key"]);
    for (const after of ["==", "-", "+", "/", " ", "\n", '"'])
      expect(found(`${key}${after}`), after).toEqual(["key"]);
    for (const after of ["A", "A==", "AB=", "AB==", "AB==x", "9"])
      expect(found(`${key}${after}`), after).toEqual([]);
  });

  it("a long key is the 84 characters, two more and `==`; cut short of that it is not one", () => {
    expect(found(long)).toEqual(["long"]);
    expect(found(` ${long} `)).toEqual(["long"]);
    expect(found(`${long}x`)).toEqual(["long"]);
    // Its first 84 characters are a valid short key in their own right.
    expect(found(long.slice(0, 84))).toEqual(["longPrefix"]);
    for (const cut of [85, 86, 87]) expect(found(`${long.slice(0, cut)} `), `${cut}`).toEqual([]);
    expect(found(`${long.slice(0, 86)}=x`)).toEqual([]);
  });
});
