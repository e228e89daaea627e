/**
 * The two pure pieces under the audit log: the canonical JSON its MACs are taken over (one event must always give
 * the same bytes, or a verified log stops verifying), and the quoting of user values in `details` (a value must
 * never end its quote, start a line, or reorder the sentence around it on screen).
 */
import { describe, expect, it } from "vitest";
import { canonicalJson, quoted } from "../../src/issuer/audit.js";

describe("canonicalJson", () => {
  it("sorts keys by code unit at every level, keeps array order, and leaves out undefined fields", () => {
    const value = {
      b: 1,
      B: [3, { z: true, y: null }, "x"],
      a: { d: undefined, c: "é", aa: 2, a1: 3 },
      "": 0,
    };
    expect(canonicalJson(value)).toBe(
      '{"":0,"B":[3,{"y":null,"z":true},"x"],"a":{"a1":3,"aa":2,"c":"é"},"b":1}',
    );
    // Insertion order does not matter.
    expect(canonicalJson({ y: 1, x: { q: 2, p: 1 } })).toBe(canonicalJson({ x: { p: 1, q: 2 }, y: 1 }));
  });

  it("writes scalars as JSON does", () => {
    expect(canonicalJson(null)).toBe("null");
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    expect(canonicalJson(-1.5)).toBe("-1.5");
    expect(canonicalJson(false)).toBe("false");
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
  });
});

describe("quoted", () => {
  it("quotes as a JSON string: quotes, backslashes and line breaks are escaped", () => {
    expect(quoted('say "hi"\\\n\r\tok')).toBe('"say \\"hi\\"\\\\\\n\\r\\tok"');
    expect(quoted("plain é ü 漢")).toBe('"plain é ü 漢"');
  });

  it("escapes every bidirectional control and the Unicode line and paragraph separators, and nothing next to them", () => {
    const controls = ["\u061c", "\u200e", "\u200f", "\u2028", "\u2029"];
    for (let c = 0x202a; c <= 0x202e; c++) controls.push(String.fromCharCode(c));
    for (let c = 0x2066; c <= 0x2069; c++) controls.push(String.fromCharCode(c));
    for (const c of controls) {
      const hex = c.charCodeAt(0).toString(16).padStart(4, "0");
      expect(quoted(`a${c}b`), hex).toBe(`"a\\u${hex}b"`);
    }
    expect(quoted("\u061c")).toBe('"\\u061c"');
    // Their neighbours are ordinary characters and stay as they are.
    for (const c of ["\u061b", "\u200d", "\u2027", "\u202f", "\u2065", "\u206a"]) {
      expect(quoted(c), c.charCodeAt(0).toString(16)).toBe(`"${c}"`);
    }
    // Several in one value: each one escaped.
    expect(quoted("\u202eevil\u2066")).toBe('"\\u202eevil\\u2066"');
  });
});
