/**
 * The streaming path in small blocks: tiny gathering sizes and caps make every block boundary, lazy anchoring
 * and retention case happen on inputs of a few tens of kilobytes, fast enough for mutation testing. Diffs with
 * tokens far apart (so whole blocks and hunks pass without a finding), on added, removed and context lines,
 * across commits, files, renames, deletions and hunks without a file header; the expected findings come from
 * how the input was built.
 */
import { describe, expect, it } from "vitest";
import { type ScanInput, type StreamLimits, scanStream } from "../../src/detect/index.js";
import { fingerprint, mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { b64, scanInChunks, seededRandom, show } from "../support/stream-corpus.js";

interface Built {
  bytes: Buffer;
  expected: string[];
}

type Style = "git-log" | "git-diff" | "diff-u";

/** A diff of `commits` commits (one, without a commit line, unless `git-log`), tokens on ~1 line in `every`. */
function sparseDiff(seed: number, style: Style, commits: number, every: number): Built {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const parts: string[] = [];
  const expected: string[] = [];
  for (let c = 0; c < commits; c++) {
    const commit = style === "git-log" ? (seed * 1000 + c).toString(16).padStart(40, "a") : null;
    if (commit) parts.push(`commit ${commit}\nAuthor: T <t@example.com>\n\n    change ${c}\n\n`);
    const files = 1 + pick(3);
    for (let f = 0; f < files; f++) {
      const kind = pick(6); // 0: new file, 1: deleted, 2: renamed, else modified
      const oldPath = `src/c${c}/old${f}.txt`;
      const path = kind === 2 ? `src/c${c}/new${f}.txt` : oldPath;
      if (style === "diff-u") parts.push(`diff -u a/${oldPath} b/${path}\n`);
      else parts.push(`diff --git a/${oldPath} b/${path}\nindex 1111111..2222222 100644\n`);
      parts.push(kind === 0 ? "--- /dev/null\n" : `--- a/${oldPath}\n`);
      parts.push(kind === 1 ? "+++ /dev/null\n" : `+++ b/${path}\n`);
      const hunks = kind === 0 || kind === 1 ? 1 : 1 + pick(3);
      let start = 1;
      for (let h = 0; h < hunks; h++) {
        start += pick(40);
        let newLine = kind === 0 ? 1 : start;
        const lines: string[] = [];
        const count = 3 + pick(30);
        for (let n = 0; n < count; n++) {
          const role = kind === 0 ? "+" : kind === 1 ? "-" : ["+", "-", " "][pick(3)];
          let content = `${"word ".repeat(1 + pick(12))}${n}`;
          if (pick(every) === 0) {
            const form = pick(3);
            const token = form === 1 ? mintLegacy() : mintAzdo();
            const [text, encoding, at] =
              form === 0
                ? [`key = "${token}";`, "plain", 7]
                : form === 1
                  ? [`pat ${token}`, "plain", 4]
                  : [`Authorization: Basic ${b64(`:${token}`)}`, "basic-auth", 21];
            content = text;
            if (role === "+")
              expected.push(`${fingerprint(token)} ${encoding} ${commit} ${path}:${newLine}:${at + 1}`);
          }
          lines.push(`${role}${content}`);
          if (role !== "-") newLine++;
        }
        const added = lines.filter((l) => l[0] !== "-").length;
        const removed = lines.filter((l) => l[0] !== "+").length;
        const oldStart = kind === 0 ? 0 : start;
        const newStart = kind === 0 ? 1 : kind === 1 ? 0 : start;
        const section = pick(2) === 0 ? "" : ` function f${h}() {`;
        parts.push(`@@ -${oldStart},${removed} +${newStart},${added} @@${section}\n${lines.join("\n")}\n`);
        start += count;
      }
    }
  }
  return { bytes: Buffer.from(parts.join("")), expected };
}

/** Chunkings and limits that put block boundaries everywhere: single bytes to a few KB, caps of a few lines. */
const FEEDS: { sizes: number[]; limits: StreamLimits }[] = [
  { sizes: [1, 7, 64], limits: { gatherBytes: 53 } },
  { sizes: [300, 11, 2000], limits: { gatherBytes: 256, retainCap: 64 } },
  { sizes: [4096], limits: { gatherBytes: 1000, retainCap: 700 } },
  { sizes: [5000, 3], limits: { gatherBytes: 4096 } },
  { sizes: [100_000], limits: {} },
];

describe("diffs in small blocks, tokens far apart", () => {
  const check = (built: Built, input: ScanInput) => {
    // Not vacuous: the builder planted findings on added lines, and tokens elsewhere.
    expect(built.expected.length).toBeGreaterThan(3);
    for (const { sizes, limits } of FEEDS)
      expect(show(scanInChunks(built.bytes, sizes, input, limits)), JSON.stringify(limits)).toEqual(
        built.expected,
      );
  };

  for (const seed of [1, 2, 3]) {
    it(`git log -p (seed ${seed}): commit, path and line of every added token`, () => {
      check(sparseDiff(seed, "git-log", 8, 25), { kind: "diff" });
    });
  }

  it("git diff without commit lines, the commit given by the caller", () => {
    const built = sparseDiff(4, "git-diff", 3, 15);
    const commit = "c".repeat(40);
    const want = built.expected.map((e) => e.replace(" null ", ` ${commit} `));
    for (const { sizes, limits } of FEEDS)
      expect(show(scanInChunks(built.bytes, sizes, { kind: "diff", commit }, limits))).toEqual(want);
  });

  it("plain diff -u output", () => {
    check(sparseDiff(5, "diff-u", 3, 15), { kind: "diff" });
  });

  it("tokens on every line: each block has findings", () => {
    check(sparseDiff(6, "git-log", 4, 1), { kind: "diff" });
  });

  it("a hunk-only patch (GitHub's `patch` field) with the path given, hunks after the first far away", () => {
    const t1 = mintAzdo();
    const t2 = mintLegacy();
    const filler = (n: number) => Array.from({ length: n }, (_, i) => ` context line ${i}`).join("\n");
    const patch = [
      "@@ -1,3 +1,4 @@",
      " a",
      `+x = "${t1}"`,
      " b",
      " c",
      `@@ -100,${401} +101,${402} @@ section`,
      filler(200),
      `-gone ${mintAzdo()}`,
      `+pat ${t2}`,
      filler(200),
      "",
    ].join("\n");
    const want = [
      `${fingerprint(t1)} plain null src/p.py:2:6`,
      `${fingerprint(t2)} plain null src/p.py:301:5`,
    ];
    for (const { sizes, limits } of FEEDS)
      expect(
        show(scanInChunks(Buffer.from(patch), sizes, { kind: "diff", path: "src/p.py" }, limits)),
      ).toEqual(want);
  });

  it("a commit line after the last hunk of a block: the next hunks are that commit's", () => {
    const t = mintAzdo();
    const c1 = "1".repeat(40);
    const c2 = "2".repeat(40);
    const log = [
      `commit ${c1}`,
      "",
      "--- a/one",
      "+++ b/one",
      "@@ -1 +1 @@",
      "+nothing here",
      `commit ${c2}`,
      "",
      "    second",
      "",
      "diff --git a/two b/two",
      "--- a/two",
      "+++ b/two",
      "@@ -5,2 +5,3 @@",
      " ctx",
      `+${t}`,
      " ctx",
      "",
    ].join("\n");
    const want = [`${fingerprint(t)} plain ${c2} two:6:1`];
    // Cut the log right after the commit line, after the `+++` line, and after the hunk header.
    for (const line of [6, 7, 12, 13, 14]) {
      const at = log.split("\n").slice(0, line).join("\n").length + 1;
      for (const gatherBytes of [at, at - 1, at + 1])
        expect(
          show(scanInChunks(Buffer.from(log), [at, 1000], { kind: "diff" }, { gatherBytes })),
          `block ends after ${gatherBytes} bytes`,
        ).toEqual(want);
    }
  });
});

describe("a base64 line at the start of a block", () => {
  it("is decoded from its first byte in text, and from after the `+` in a diff", () => {
    const legacy = mintLegacy();
    const encoded = b64(`:${legacy}`);
    const before = Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n");
    const text = `${before}\n${encoded}\nafter\n`;
    const diff = `--- a/s\n+++ b/s\n@@ -0,0 +1,3 @@\n+${before.split("\n").slice(0, 2).join("\n+")}\n+${encoded}\n+after\n`;
    const cases = [
      { bytes: text, input: { kind: "text", path: "s" } as const, want: `base64 null s:21:1` },
      { bytes: diff, input: { kind: "diff" } as const, want: `base64 null s:3:1` },
    ];
    for (const { bytes, input, want } of cases) {
      const at = bytes.indexOf(encoded) - (input.kind === "diff" ? 1 : 0);
      // The block boundary right before the line (no gathering: each piece is a block).
      for (const sizes of [[at, 100_000], [at - 1, 1, 100_000], [bytes.length]])
        expect(
          show(scanInChunks(Buffer.from(bytes), sizes, input, { gatherBytes: 1 })),
          `${input.kind} ${sizes}`,
        ).toEqual([`${fingerprint(legacy)} ${want}`]);
    }
  });
});

describe("scanStream", () => {
  it("yields the findings of what a failing source delivered, then its error", async () => {
    const built = sparseDiff(7, "git-log", 3, 5);
    const cut = built.bytes.length - 10;
    async function* source() {
      yield built.bytes.subarray(0, 1000);
      yield built.bytes.subarray(1000, cut);
      throw new Error("source broke");
    }
    const found: string[] = [];
    const run = async () => {
      for await (const f of scanStream(source(), { kind: "diff" }, {}, { gatherBytes: 300 }))
        found.push(...show([f]));
    };
    await expect(run()).rejects.toThrow("source broke");
    expect(found).toEqual(built.expected);
  });

  it("yields every finding of a source that ends", async () => {
    const built = sparseDiff(8, "git-log", 3, 5);
    async function* source() {
      for (let at = 0; at < built.bytes.length; at += 777) yield built.bytes.subarray(at, at + 777);
    }
    const found: string[] = [];
    for await (const f of scanStream(source(), { kind: "diff" })) found.push(...show([f]));
    expect(found).toEqual(built.expected);
  });
});
