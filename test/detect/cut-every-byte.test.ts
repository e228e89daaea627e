/**
 * One cut at every byte around each form of token, at the smallest cut size the scanner allows. The small
 * sibling of cuts.test.ts (which cuts after the real 1 MiB gathering): fast enough for mutation testing.
 */
import { describe, expect, it } from "vitest";
import type { ScanInput } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { b64, scanPieces, show } from "../support/stream-corpus.js";

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
      // Room after the text, so cuts up to 4 KiB past it (where ownership changes hands) fit in the line.
      const line = `${lead}${form.text} ${"- ".repeat(2500)}`;
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

describe("after a cut inside a Basic credential's long run", () => {
  it("only the run the block starts inside is Basic: a later run in the same block is base64", () => {
    const limits = { maxLine: 16 * 1024, gatherBytes: 16 };
    const lead = "- ".repeat(8 * 1024 + 300);
    const k1 = mintAzdo();
    const k2 = mintAzdo();
    const zs = "z".repeat(3000);
    const run = b64(`${zs}:${k1}`);
    const line = `${lead}Authorization: Basic ${run} v: ${b64(`pat:${k2}`)} -`;
    const runAt = lead.length + 21;
    const want = [
      `${fingerprint(k1)} basic-auth null t:1:${runAt + Math.floor((zs.length + 1) / 3) * 4 + 1}`,
      `${fingerprint(k2)} base64 null t:1:${runAt + run.length + 4 + 4 + 1}`,
    ];
    for (const cut of [runAt + 3000, runAt + run.length - 200, runAt + run.length - 1]) {
      const pieces = [line.slice(0, cut), `${line.slice(cut)}\n`].map((p) => Buffer.from(p));
      expect(show(scanPieces(pieces, { kind: "text", path: "t" }, limits)), `cut at ${cut}`).toEqual(want);
    }
  });
});
