import { describe, expect, it } from "vitest";
import { mintAzdo, mintLegacy } from "../../src/tokens/index.js";
import { b64, scanDiff, summarize } from "../support/detect.js";

const a = mintAzdo();
const b = mintAzdo();
const l = mintLegacy();
const labels = { a, b, l };
const sha1 = "1111111111111111111111111111111111111111";
const sha2 = "2222222222222222222222222222222222222222";

describe("unified diffs", () => {
  it("counts only added lines, with new-file line numbers across hunks", () => {
    const diff = [
      "diff --git a/app/config.yml b/app/config.yml",
      "index 0000001..0000002 100644",
      "--- a/app/config.yml",
      "+++ b/app/config.yml",
      "@@ -1,4 +1,5 @@",
      ` context ${a}`,
      `-removed ${b}`,
      `+added ${b}`,
      "+second",
      " context",
      " context",
      "@@ -20,3 +21,4 @@ section",
      " context",
      "-gone",
      `+pat: ${l}`,
      `+auth: ${b64(`x:${a}`)}`,
      " end",
      "",
    ].join("\n");
    expect(summarize(scanDiff(diff), labels)).toEqual([
      "b plain app/config.yml:2:7",
      "l plain app/config.yml:22:6",
      "a base64 app/config.yml:23:7",
    ]);
  });

  it("never takes +++ headers, context or removed lines for added lines", () => {
    const diff = [
      `diff --git a/${a} b/${a}`,
      `--- a/${a}`,
      `+++ b/${a}`,
      "@@ -1,2 +1,2 @@",
      `-${b}`,
      `+${l}`,
      ` ${b}`,
      "",
    ].join("\n");
    expect(summarize(scanDiff(diff), labels)).toEqual([`l plain ${a}:1:1`]);
  });

  it("treats an added line that reads '++ x' as content, not a header", () => {
    const diff = ["--- a/f", "+++ b/f", "@@ -0,0 +1,2 @@", `+++ ${a}`, `+${b}`, ""].join("\n");
    expect(summarize(scanDiff(diff), labels)).toEqual(["a plain f:1:4", "b plain f:2:1"]);
  });

  it("attributes findings to commits in git log -p output and uses new names on renames", () => {
    const log = [
      `commit ${sha2}`,
      "",
      "    rename and add",
      "",
      "diff --git a/old.txt b/new.txt",
      "similarity index 90%",
      "rename from old.txt",
      "rename to new.txt",
      "--- a/old.txt",
      "+++ b/new.txt",
      "@@ -1 +1,2 @@",
      " keep",
      `+${b}`,
      `commit ${sha1}`,
      "",
      "    first",
      "",
      "diff --git a/old.txt b/old.txt",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/old.txt",
      "@@ -0,0 +1,2 @@",
      "+keep",
      `+${a}`,
      "diff --git a/img.png b/img.png",
      "Binary files /dev/null and b/img.png differ",
      "",
    ].join("\n");
    const findings = scanDiff(log);
    expect(summarize(findings, labels)).toEqual(["b plain new.txt:2:1", "a plain old.txt:2:1"]);
    expect(findings.map((f) => f.commit)).toEqual([sha2, sha1]);
  });

  it("reads GitHub's hunk-only patch field with the path given", () => {
    const patch = `@@ -3,2 +3,3 @@ def f():\n   x = 1\n-  y = 2\n+  y = "${a}"\n+  z = 3\n`;
    expect(summarize(scanDiff(patch, {}, "src/f.py"), labels)).toEqual(["a plain src/f.py:4:8"]);
  });

  it("handles quoted paths, CRLF, no-newline markers and deleted files", () => {
    const diff = [
      'diff --git "a/sp\\303\\251cial file.txt" "b/sp\\303\\251cial file.txt"',
      '--- "a/sp\\303\\251cial file.txt"',
      '+++ "b/sp\\303\\251cial file.txt"',
      "@@ -1 +1 @@",
      `-old\r`,
      `+${a}\r`,
      "\\ No newline at end of file",
      "diff --git a/gone.txt b/gone.txt",
      "deleted file mode 100644",
      "--- a/gone.txt",
      "+++ /dev/null",
      "@@ -1 +0,0 @@",
      `-${b}`,
      "",
    ].join("\n");
    expect(summarize(scanDiff(diff), labels)).toEqual(["a plain spécial file.txt:1:1"]);
  });

  it("reads plain diff -u output (no git headers)", () => {
    const diff = [
      "diff -u a/one.txt b/one.txt",
      "--- a/one.txt\t2026-11-01 10:00:00.000000000 +0000",
      "+++ b/one.txt\t2026-11-02 10:00:00.000000000 +0000",
      "@@ -1,1 +1,2 @@",
      " x",
      `+${a}`,
      "--- two.txt",
      "+++ two.txt",
      "@@ -5,0 +6 @@",
      `+${l}`,
      "",
    ].join("\n");
    expect(summarize(scanDiff(diff), labels)).toEqual(["a plain one.txt:2:1", "l plain two.txt:6:1"]);
  });

  it("does not mistake an added base64 line's '+' marker for base64", () => {
    const diff = `--- a/s.yml\n+++ b/s.yml\n@@ -0,0 +1 @@\n+${b64(`:${l}`)}\n`;
    expect(summarize(scanDiff(diff), labels)).toEqual(["l base64 s.yml:1:1"]);
    expect(summarize(scanDiff(diff, { legacy: false }), labels)).toEqual([]);
    const diffA = `--- a/s.yml\n+++ b/s.yml\n@@ -0,0 +1 @@\n+${b64(a)}\n`;
    expect(summarize(scanDiff(diffA, { legacy: false }), labels)).toEqual(["a base64 s.yml:1:1"]);
  });
});
