/**
 * `patrol scan --format json` and `--format sarif`, run as the built program (global setup builds dist/) on a
 * real git repository. The SARIF log is validated against the SARIF 2.1.0 JSON schema (test/schemas, with its
 * source and licence) by Ajv; both formats must say exactly what the JSONL contract says, and never the token.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Ajv04 from "ajv-draft-04";
import addFormats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprint, mintAzdo, mintLegacy, redact } from "../src/tokens/index.js";

const CLI = path.resolve("dist/src/cli/main.js");
const SARIF_SCHEMA = path.resolve("test/schemas/sarif-schema-2.1.0.json");

function patrol(args: string[], options: { input?: string } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", ...options });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();
}

/** A validator for SARIF 2.1.0 logs, and its errors in a readable line. */
function sarifValidator() {
  // Both packages are CommonJS with a `default` export: under NodeNext the default import is the module.
  const ajv = new Ajv04.default({ allErrors: true });
  addFormats.default(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(SARIF_SCHEMA, "utf8")));
  return (log: unknown) => {
    const ok = validate(log) as boolean;
    return { ok, errors: ajv.errorsText(validate.errors) };
  };
}

const CONTRACT_KEYS = [
  "format",
  "fingerprint",
  "checksumValid",
  "encoding",
  "commit",
  "path",
  "line",
  "column",
  "redacted",
];

describe("patrol scan --format json and --format sarif", () => {
  let work: string;
  let repo: string;
  const azdo = mintAzdo();
  const long = mintAzdo({ long: true });
  const legacy = mintLegacy();
  const tokens = [azdo, long, legacy];
  const commits: string[] = [];
  const validateSarif = sarifValidator();

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "patrol-cli-formats-"));
    repo = path.join(work, "repo");
    mkdirSync(path.join(repo, "conf dir"), { recursive: true });
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(path.join(repo, "app.env"), `A=1\nAZURE_PAT=${azdo}\n`);
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "one");
    commits.push(git(repo, "rev-parse", "HEAD"));
    // A path with a space and a non-ASCII name: SARIF wants them as URI references.
    writeFileSync(path.join(repo, "conf dir", "Gefäß.yml"), `x: 1\ny: ${long}\n`);
    writeFileSync(
      path.join(repo, "ci.sh"),
      `curl -H "Authorization: Basic ${Buffer.from(`:${legacy}`).toString("base64")}" x\n`,
    );
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "two");
    commits.push(git(repo, "rev-parse", "HEAD"));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const jsonl = () =>
    patrol(["scan", repo, "--format", "jsonl"])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l));

  it("json: one array of exactly the JSONL findings, with the contract's keys, exit 1", () => {
    const r = patrol(["scan", repo, "--format", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(1);
    const findings = JSON.parse(r.stdout);
    expect(Array.isArray(findings)).toBe(true);
    expect(findings).toEqual(jsonl());
    for (const f of findings) expect(Object.keys(f)).toEqual(CONTRACT_KEYS);
    const brief = findings.map(
      (f: Record<string, unknown>) =>
        `${f.fingerprint} ${f.format} ${f.encoding} ${f.commit} ${f.path}:${f.line}:${f.column}`,
    );
    expect(brief.sort()).toEqual(
      [
        `${fingerprint(azdo)} azdo-pat plain ${commits[0]} app.env:2:11`,
        `${fingerprint(long)} azdo-pat plain ${commits[1]} conf dir/Gefäß.yml:2:4`,
        `${fingerprint(legacy)} azdo-pat-legacy basic-auth ${commits[1]} ci.sh:1:31`,
      ].sort(),
    );
    expect(findings.map((f: { redacted: string }) => f.redacted).sort()).toEqual(tokens.map(redact).sort());
    for (const t of tokens) expect(r.stdout).not.toContain(t.slice(4, -4));
  });

  it("json: an empty array and exit 0 when nothing is found", () => {
    const r = patrol(["scan", "--diff", "-", "--format", "json"], {
      input: "--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+clean\n",
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it("sarif: the log is valid SARIF 2.1.0 by the OASIS schema, and says what the findings say", () => {
    const r = patrol(["scan", repo, "--format", "sarif"]);
    expect(r.code).toBe(1);
    const log = JSON.parse(r.stdout);
    const verdict = validateSarif(log);
    expect(verdict.errors).toBe("No errors");
    expect(verdict.ok).toBe(true);
    const results = log.runs[0].results as {
      ruleId: string;
      locations: {
        physicalLocation: { artifactLocation: { uri: string }; region: Record<string, number> };
      }[];
      partialFingerprints: Record<string, string>;
      properties: { commit: string; encoding: string };
    }[];
    const ruleIds = log.runs[0].tool.driver.rules.map((rule: { id: string }) => rule.id);
    const seen = results.map((res) => {
      expect(ruleIds).toContain(res.ruleId);
      const loc = res.locations[0].physicalLocation;
      return `${res.partialFingerprints["patrolTokenHash/v1"].split(":")[0]} ${res.ruleId} ${res.properties.encoding} ${res.properties.commit} ${decodeURIComponent(loc.artifactLocation.uri)}:${loc.region.startLine}:${loc.region.startColumn}`;
    });
    const want = jsonl().map(
      (f) => `${f.fingerprint} ${f.format} ${f.encoding} ${f.commit} ${f.path}:${f.line}:${f.column}`,
    );
    expect(seen).toEqual(want);
    // URIs are references: the space and the non-ASCII letters are percent-encoded.
    const uris = results.map((res) => res.locations[0].physicalLocation.artifactLocation.uri);
    expect(uris).toContain("conf%20dir/Gef%C3%A4%C3%9F.yml");
    for (const t of tokens) expect(r.stdout).not.toContain(t.slice(4, -4));
  });

  it("sarif: an empty run is valid too, with exit 0", () => {
    const r = patrol(["scan", repo, "--range", `${commits[1]}..${commits[1]}`, "--format", "sarif"]);
    expect(r.code).toBe(0);
    const log = JSON.parse(r.stdout);
    expect(log.runs[0].results).toEqual([]);
    expect(validateSarif(log).ok).toBe(true);
  });

  it("the schema check is real: it rejects logs that break SARIF 2.1.0", () => {
    const log = JSON.parse(patrol(["scan", repo, "--format", "sarif"]).stdout);
    const broken = [
      { ...log, version: "2.0.0" },
      { ...log, runs: undefined },
      { ...log, runs: [{ ...log.runs[0], tool: {} }] },
      {
        ...log,
        runs: [{ ...log.runs[0], results: [{ ...log.runs[0].results[0], level: "critical" }] }],
      },
      {
        ...log,
        runs: [
          {
            ...log.runs[0],
            results: [
              {
                ...log.runs[0].results[0],
                locations: [{ physicalLocation: { region: { startLine: 0 } } }],
              },
            ],
          },
        ],
      },
    ];
    for (const doc of broken) expect(validateSarif(JSON.parse(JSON.stringify(doc))).ok).toBe(false);
  });
});
