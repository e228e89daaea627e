/**
 * A giant line cut exactly once, at a known place, inside a token of each form. Kept apart from the larger
 * stress inputs (giant-lines, boundaries) because it is small enough to run under mutation testing.
 */
import { describe, expect, it } from "vitest";
import type { ScanInput } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { BEYOND_COALESCING, b64, scanPieces, show } from "../support/stream-corpus.js";

const MAX_LINE = 64 * 1024;

/**
 * One cut at a known place: a first piece with no newline, longer than the cut size and than what the
 * scanner gathers small chunks into, ends inside the token; the rest of the line follows.
 */
describe("a token across one cut, whichever byte the cut falls after", () => {
  const lead = "- ".repeat(BEYOND_COALESCING / 4);
  const FILLER_LINES = BEYOND_COALESCING / 16;
  const cutAcross = (
    prefix: string,
    tokenText: string,
    suffix: string,
    input: ScanInput,
    limits = { maxLine: MAX_LINE },
  ) => {
    const results: { split: number; found: string[] }[] = [];
    // Before the first byte, after each of the first two, in the middle, before each of the last two, after it.
    const n = tokenText.length;
    for (const split of [0, 1, 2, Math.floor(n / 2), n - 2, n - 1, n]) {
      const pieces = [
        Buffer.from(prefix + tokenText.slice(0, split)),
        Buffer.from(tokenText.slice(split) + suffix),
      ];
      results.push({ split, found: show(scanPieces(pieces, input, limits)) });
    }
    return results;
  };

  it("a plain key, a legacy token and a long-form key in text", () => {
    for (const token of [mintAzdo(), mintLegacy(), mintAzdo({ long: true })]) {
      const want = [`${fingerprint(token)} plain null t:1:${lead.length + 1}`];
      for (const { split, found } of cutAcross(lead, token, " -\n", { kind: "text", path: "t" }))
        expect(found, `split after ${split}`).toEqual(want);
    }
  });

  it("a key in URL userinfo: the user name before it survives the cut", () => {
    const token = mintAzdo();
    const prefix = `${lead}https://build:`;
    const want = [`${fingerprint(token)} url null t:1:${prefix.length + 1}`];
    for (const { split, found } of cutAcross(prefix, token, "@dev.azure.com/org\n", {
      kind: "text",
      path: "t",
    }))
      expect(found, `split after ${split}`).toEqual(want);
  });

  // Both were bugs: the block ending at a cut judged a key ending right there without the bytes after it.
  it("a cut right after a URL-userinfo key, before its `@`: still url", () => {
    const token = mintAzdo();
    const prefix = `${lead}https://build:`;
    const pieces = [Buffer.from(prefix + token), Buffer.from("@dev.azure.com/org\n")];
    expect(show(scanPieces(pieces, { kind: "text", path: "t" }, { maxLine: MAX_LINE }))).toEqual([
      `${fingerprint(token)} url null t:1:${prefix.length + 1}`,
    ]);
  });

  it("a cut right after 84 key characters followed by a letter: no key, as the boundary rule says", () => {
    // `${key}x` is no key (scanner.test.ts: "applies the boundary rules"), however the line is cut.
    const token = mintAzdo();
    const pieces = [Buffer.from(lead + token), Buffer.from("x\n")];
    expect(scanPieces(pieces, { kind: "text", path: "t" }, { maxLine: MAX_LINE })).toEqual([]);
  });

  it("a base64-encoded key, the cut inside the encoded text", () => {
    const token = mintAzdo();
    const encoded = b64(`pat:${token}`);
    const want = [`${fingerprint(token)} base64 null t:1:${lead.length + 1 + 4}`];
    for (const { split, found } of cutAcross(lead, encoded, " -\n", { kind: "text", path: "t" }))
      expect(found, `split after ${split}`).toEqual(want);
  });

  it("a key on an added line of a diff, the `+` at the start of the piece that is cut", () => {
    // The filler hunk arrives first and whole, so the next piece starts the giant line with its `+`.
    const filler = `--- a/d\n+++ b/d\n@@ -0,0 +1,${FILLER_LINES + 1} @@\n${"+filler\n".repeat(FILLER_LINES)}`;
    const token = mintAzdo();
    const want = [`${fingerprint(token)} plain null d:${FILLER_LINES + 1}:${lead.length + 1}`];
    for (const split of [0, 1, 2, 41, 82, 83, 84]) {
      const pieces = [filler, `+${lead}${token.slice(0, split)}`, `${token.slice(split)} -\n`].map((p) =>
        Buffer.from(p),
      );
      expect(
        show(scanPieces(pieces, { kind: "diff" }, { maxLine: MAX_LINE })),
        `split after ${split}`,
      ).toEqual(want);
    }
    // A giant base64 line that opens right after the `+`: cut inside it, the marker is still not part of it.
    const zs = 3 * Math.ceil(BEYOND_COALESCING / 8);
    const encoded = b64(`${"z".repeat(zs)}:${token}:`);
    const keyAt = Math.floor((zs + 1) / 3) * 4;
    for (const split of [keyAt, keyAt + 3, keyAt + 57, keyAt + 112]) {
      const pieces = [filler, `+${encoded.slice(0, split)}`, `${encoded.slice(split)}\n`].map((p) =>
        Buffer.from(p),
      );
      expect(
        show(scanPieces(pieces, { kind: "diff" }, { maxLine: MAX_LINE })),
        `base64 split after ${split}`,
      ).toEqual([`${fingerprint(token)} base64 null d:${FILLER_LINES + 1}:${keyAt + 1}`]);
    }
  });
});

/**
 * The same, small: with the smallest cut size the scanner allows (16 KiB, an overlap of 4 KiB) and no
 * gathering, a piece without a newline that takes the line over the cut size makes one cut where it ends. Every form of token,
 * and near-tokens the boundary rules reject, with the cut at each byte around them: a token straddling the
 * cut, ending at it, or starting at it is reported once, with the encoding and column it has uncut.
 */
describe("one cut at every byte around a token, at the smallest cut size", () => {
  // Pieces of 16 bytes or more are not gathered: each goes to the splitter as it is.
  const limits = { maxLine: 16 * 1024, gatherBytes: 16 };
  const lead = "- ".repeat(8 * 1024 + 300);
  interface Form {
    name: string;
    text: string;
    /** The finding, or null when the text holds no token. */
    want: { token: string; encoding: string; at: number } | null;
  }
  const azdo = mintAzdo();
  const legacy = mintLegacy();
  const long = mintAzdo({ long: true });
  const zs = "z".repeat(3000);
  const basic = b64(`${zs}:${azdo}`);
  const forms: Form[] = [
    { name: "plain key", text: azdo, want: { token: azdo, encoding: "plain", at: 0 } },
    { name: "long-form key", text: long, want: { token: long, encoding: "plain", at: 0 } },
    { name: "legacy token", text: legacy, want: { token: legacy, encoding: "plain", at: 0 } },
    { name: "key then a letter", text: `${azdo}x`, want: null },
    { name: "a letter then a key", text: `x${azdo}`, want: null },
    { name: "legacy token then a letter", text: `${legacy}a`, want: null },
    {
      name: "URL userinfo",
      text: `https://build:${azdo}@dev.azure.com/o`,
      want: { token: azdo, encoding: "url", at: 14 },
    },
    {
      name: "base64",
      text: `v: ${b64(`pat:${azdo}`)}`,
      want: { token: azdo, encoding: "base64", at: 3 + 4 },
    },
    {
      // A 4 KB base64 run: the overlap after a cut near the key starts inside it, past `Basic `.
      name: "Basic credentials in a long run",
      text: `Authorization: Basic ${basic}`,
      want: { token: azdo, encoding: "basic-auth", at: 21 + Math.floor((zs.length + 1) / 3) * 4 },
    },
  ];

  const header = "--- a/d\n+++ b/d\n@@ -0,0 +1,2 @@\n+";
  const scanCutAt = (kind: "text" | "diff", line: string, cut: number) => {
    const before = kind === "diff" ? header : "";
    const after = kind === "diff" ? "\n+last\n" : "\n";
    const pieces = [before, line.slice(0, cut), line.slice(cut) + after]
      .filter((p) => p.length > 0)
      .map((p) => Buffer.from(p));
    const input: ScanInput = kind === "diff" ? { kind } : { kind, path: "t" };
    return show(scanPieces(pieces, input, limits));
  };

  for (const form of forms) {
    it(`${form.name}`, () => {
      const line = `${lead}${form.text} -`;
      const start = lead.length;
      const want = (kind: "text" | "diff") =>
        form.want
          ? [
              `${fingerprint(form.want.token)} ${form.want.encoding} null ${kind === "text" ? "t" : "d"}:1:${start + form.want.at + 1}`,
            ]
          : [];
      // Uncut (the line fits), as the reference: by construction, not by running the detector.
      expect(show(scanPieces([Buffer.from(`${line}\n`)], { kind: "text", path: "t" })), "uncut").toEqual(
        want("text"),
      );
      const at = start + (form.want?.at ?? 0);
      const end = start + form.text.length;
      const cuts = new Set<number>();
      // Around the token's reported offset and the text's end, and where ownership passes between blocks.
      for (let d = -3; d <= 3; d++)
        for (const p of [at, end, at + 2048, at + 4096, end - 84]) cuts.add(p + d);
      for (const kind of ["text", "diff"] as const)
        for (const cut of [...cuts].filter((c) => c > limits.maxLine && c < line.length))
          expect(scanCutAt(kind, line, cut), `${kind}, cut after ${cut - start} bytes of the text`).toEqual(
            want(kind),
          );
    });
  }
});
