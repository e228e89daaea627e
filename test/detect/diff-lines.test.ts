/**
 * DiffReader line by line: which lines are added, their new-file numbers, and the path and commit from
 * headers (quoted paths, tab-dated `+++` lines, /dev/null, renames, binary files, hunk header forms).
 */
import { describe, expect, it } from "vitest";
import { DiffReader } from "../../src/detect/diff-lines.js";

/** Each line of `text` as `+N path@commit column` (added), `.N` (other hunk line) or `h` (header). */
function read(text: string, reader = new DiffReader(), skipFirst = 0): string[] {
  const bytes = Buffer.from(text, "utf8");
  const out: string[] = [];
  // Optionally step over the first lines without describing them (the fast path for added-only hunks).
  let from = 0;
  for (let n = 0; n < skipFirst; n++) from = bytes.indexOf(0x0a, from) + 1;
  reader.consume(bytes, 0, 0, from);
  reader.consume(bytes, 100, from, bytes.length, (s, _e, info) => {
    const where = `${info.path}@${info.commit?.slice(0, 4) ?? "-"}`;
    if (info.added) out.push(`+${info.line} ${where} ${info.contentStart - 100 - s}`);
    else out.push(info.line > 0 ? `.${info.line}` : "h");
  });
  return out;
}

describe("DiffReader", () => {
  it("numbers added lines from the hunk header, context counting, removed not", () => {
    const d = "--- a/f\n+++ b/f\n@@ -3,3 +7,4 @@ ctx\n a\n-b\n+c\n\n+d\n\\ No newline at end of file\n";
    expect(read(d)).toEqual(["h", "h", "h", ".7", ".8", "+8 f@- 1", ".9", "+10 f@- 1", "h"]);
  });

  it("reads hunk headers with counts left out, a zero start, and no lines at all", () => {
    expect(read("@@ -1 +1 @@\n-x\n+y\n+z\n")).toEqual(["h", ".1", "+1 null@- 1", "h"]);
    expect(read("@@ -0,0 +0,2 @@\n+a\n+b\n")).toEqual(["h", "+1 null@- 1", "+2 null@- 1"]);
    // A hunk of no lines ends at once: what follows is header again.
    expect(read("@@ -1,0 +1,0 @@\n+++ b/x\n")).toEqual(["h", "h"]);
    expect(read("@@ -2,2 +5 @@\n a\n-b\n+c\n")).toEqual(["h", ".5", ".6", "h"]);
  });

  it("steps over an added-only hunk's lines without describing them, counting them", () => {
    const d = `@@ -0,0 +1,4 @@\n+a\n+b\n+c\n+d\n@@ -9 +9 @@\n+e\n`;
    expect(read(d, new DiffReader({ path: "p" }), 3)).toEqual(["+3 p@- 1", "+4 p@- 1", "h", "+9 p@- 1"]);
  });

  it("takes the path from `+++`, dropping b/, a tab and date, trailing spaces; /dev/null keeps the old", () => {
    const paths = (d: string) =>
      read(d)
        .filter((l) => l.startsWith("+"))
        .map((l) => l.split(" ").slice(1, -1).join(" "));
    expect(paths("+++ b/x.txt\t2026-11-02 10:00\n@@ -1 +1 @@\n+a\n")).toEqual(["x.txt@-"]);
    expect(paths("+++ plain.txt  \n@@ -1 +1 @@\n+a\n")).toEqual(["plain.txt@-"]);
    expect(paths("diff --git a/k b/k\n+++ /dev/null\n@@ -1 +1 @@\n+a\n")).toEqual(["k@-"]);
    expect(paths("diff --git a/old b/new name.txt\n@@ -1 +1 @@\n+a\n")).toEqual(["new name.txt@-"]);
    expect(paths("diff --git x y\n@@ -1 +1 @@\n+a\n")).toEqual(["null@-"]);
    expect(paths("rename to moved.txt\n@@ -1 +1 @@\n+a\n")).toEqual(["moved.txt@-"]);
    expect(paths('rename to "m\\303\\251"\n@@ -1 +1 @@\n+a\n')).toEqual(["mé@-"]);
  });

  it("unquotes C-style quoted paths", () => {
    const path = (q: string) => read(`+++ ${q}\n@@ -1 +1 @@\n+a\n`)[2].split(" ")[1].replace(/@-$/, "");
    expect(path('"b/sp\\303\\251cial"')).toBe("spécial");
    expect(path('"b/t\\tn\\nq\\"s\\\\"')).toBe('t\tn\nq"s\\');
    expect(path('"b/\\a\\b\\f\\v\\r\\z"')).toBe("\x07\b\f\v\rz");
    expect(path('"b/unterminated')).toBe('"b/unterminated');
    expect(path('"')).toBe('"');
    expect(path('b/ends"')).toBe('ends"');
    expect(path('""')).toBe("");
    // Octal escapes from \0 to \7.
    expect(path('"b/\\060\\177"')).toBe("0\x7f");
  });

  it("takes commits from commit lines (SHA-1 and SHA-256), each resetting the path", () => {
    const c1 = "a".repeat(40);
    const c2 = "b".repeat(64);
    const d = `commit ${c1}\n+++ b/f\n@@ -0,0 +1 @@\n+x\ncommit ${c2} (HEAD)\n@@ -0,0 +1 @@\n+y\ncommit zz\n`;
    expect(read(d).filter((l) => l.startsWith("+"))).toEqual(["+1 f@aaaa 1", "+1 null@bbbb 1"]);
    expect(read(`commit ${"c".repeat(39)}\n@@ -1 +1 @@\n+z\n`).at(-1)).toBe("+1 null@- 1");
  });

  it("takes no giant line for a header, and CR or empty lines in a hunk for context", () => {
    const giant = `+++ b/${"x".repeat(20_000)}`;
    expect(read(`diff --git a/s b/s\n${giant}\n@@ -1 +1 @@\n+a\n`).at(-1)).toBe("+1 s@- 1");
    expect(read("@@ -1,3 +1,3 @@\n\r\n\n x\n+y\n")).toEqual(["h", ".1", ".2", ".3", "h"]);
  });

  it("keeps a cut line's classification for its rest, and reports it open", () => {
    const r = new DiffReader({ path: "g" });
    const bytes = Buffer.from("@@ -0,0 +1,2 @@\n+aaaaaaaa", "latin1");
    r.consume(bytes, 0, 0, bytes.length);
    expect(r.openLineInfo).toEqual({ added: true, line: 1, commit: null, path: "g", contentStart: 17 });
    const rest = Buffer.from("bbbb\n+c\n", "latin1");
    const infos: string[] = [];
    r.consume(rest, bytes.length, 0, rest.length, (_s, _e, i) =>
      infos.push(`${i.added} ${i.line} ${i.contentStart}`),
    );
    expect(infos).toEqual(["true 1 17", `true 2 ${bytes.length + 6}`]);
    expect(r.openLineInfo).toBeNull();
    expect(r.inHunk).toBe(false);
  });
});
