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
