import { describe, expect, it } from "vitest";
import {
  expectedChecksum,
  fingerprint,
  mintAzdo,
  mintLegacy,
  parseToken,
  redact,
  tokenRejection,
} from "../../src/tokens/index.js";
import { b64, scanDiff, scanText, summarize } from "../support/detect.js";

const azdo = mintAzdo();
const azdoLong = mintAzdo({ long: true });
const legacy = mintLegacy();
const labels = { azdo, azdoLong, legacy };

describe("plain tokens", () => {
  it("finds an AZDO key with its line, column, fingerprint and redaction, never the token", () => {
    const findings = scanText(`first line\n  key: ${azdo}\n`);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toEqual({
      format: "azdo-pat",
      fingerprint: fingerprint(azdo),
      checksumValid: true,
      encoding: "plain",
      commit: null,
      path: "file.txt",
      line: 2,
      column: 8,
      redacted: redact(azdo),
    });
    expect(JSON.stringify(findings)).not.toContain(azdo.slice(4, 80));
  });

  it("applies the boundary rules to AZDO keys", () => {
    expect(scanText(`x${azdo}`)).toHaveLength(0);
    expect(scanText(`${azdo}x`)).toHaveLength(0);
    expect(scanText(`-${azdo}-`)).toHaveLength(1);
    expect(scanText(`"${azdo}"`)).toHaveLength(1);
    expect(scanText(azdo)).toHaveLength(1);
    // "==" right after a short key is not a long form (no checksum characters before it).
    expect(summarize(scanText(`${azdo}==`), labels)).toEqual(["azdo plain file.txt:1:1"]);
  });

  it("finds the 88-character long form as one token", () => {
    const findings = scanText(`token=${azdoLong};`);
    expect(summarize(findings, labels)).toEqual(["azdoLong plain file.txt:1:7"]);
  });

  it("drops 84-character candidates whose checksum fails", () => {
    const broken = `${azdo.slice(0, 80)}${azdo[80] === "A" ? "B" : "A"}${azdo.slice(81)}`;
    expect(scanText(`key ${broken} end`)).toHaveLength(0);
  });

  it("finds legacy tokens only as exact 52-character runs", () => {
    expect(summarize(scanText(`pat=${legacy}\n`), labels)).toEqual(["legacy plain file.txt:1:5"]);
    expect(scanText(`Z${legacy}0`)).toHaveLength(1); // Z and 0 are outside [a-z2-7]
    expect(scanText(`a${legacy}`)).toHaveLength(0);
    expect(scanText(`${legacy}7`)).toHaveLength(0);
  });

  it("reports checksum-failing legacy candidates only when asked", () => {
    const candidate = "a".repeat(52);
    expect(scanText(`x ${candidate} y`)).toHaveLength(0);
    const kept = scanText(`x ${candidate} y`, { legacyCandidates: true });
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({
      format: "azdo-pat-legacy",
      checksumValid: false,
      fingerprint: fingerprint(candidate),
    });
  });

  it("copes with NUL bytes, invalid UTF-8 and CRLF", () => {
    const bytes = Buffer.concat([
      Buffer.from([0xff, 0xfe, 0x00, 0xc3]),
      Buffer.from(` ${azdo}\r\n\0`),
      Buffer.from([0x80, 0x00]),
      Buffer.from(`${legacy}\r\n`),
    ]);
    expect(summarize(scanText(bytes), labels)).toEqual([
      "azdo plain file.txt:1:6",
      "legacy plain file.txt:2:4",
    ]);
  });

  it("can be limited to one format", () => {
    const text = `${azdo} ${legacy}`;
    expect(summarize(scanText(text, { legacy: false }), labels)).toEqual(["azdo plain file.txt:1:1"]);
    expect(summarize(scanText(text, { azdo: false }), labels)).toEqual(["legacy plain file.txt:1:86"]);
  });
});

describe("encoded tokens", () => {
  // Both ways of finding base64-encoded AZDO keys: decoding runs (legacy on) and the signature renderings.
  const strategies = { decoding: {}, renderings: { legacy: false } };

  for (const [strategy, options] of Object.entries(strategies)) {
    it(`finds base64 of an AZDO key at every alignment (${strategy})`, () => {
      for (const prefix of ["", "u:", "us:", "use:", "user:"]) {
        const findings = scanText(`value: ${b64(prefix + azdo)}\n`, options);
        expect(summarize(findings, labels)).toEqual([
          `azdo base64 file.txt:1:${8 + Math.floor(prefix.length / 3) * 4}`,
        ]);
      }
    });

    it(`labels HTTP Basic credentials, with and without a user name (${strategy})`, () => {
      const header = `curl -H "Authorization: Basic ${b64(`me:${azdo}`)}" https://dev.azure.com\n`;
      // The column is that of the base64 group where the key's encoding starts: "me:" fills the first group.
      expect(summarize(scanText(header, options), labels)).toEqual(["azdo basic-auth file.txt:1:35"]);
      const empty = `Authorization: basic ${b64(`:${azdoLong}`)}\n`;
      expect(summarize(scanText(empty, options), labels)).toEqual(["azdoLong basic-auth file.txt:1:22"]);
      const git = `git -c http.extraheader="AUTHORIZATION: Basic ${b64(`:${azdo}`)}" clone https://dev.azure.com/o/p/_git/r\n`;
      expect(scanText(git, options).map((f) => f.encoding)).toEqual(["basic-auth"]);
    });

    it(`finds keys in .npmrc, docker config.json and Kubernetes Secrets (${strategy})`, () => {
      const npmrc = [
        "registry=https://pkgs.dev.azure.com/org/_packaging/feed/npm/registry/",
        `//pkgs.dev.azure.com/org/_packaging/feed/npm/registry/:_password=${b64(azdo)}`,
        `//pkgs.dev.azure.com/org/_packaging/feed/npm/:_auth=${b64(`org:${azdo}`)}`,
      ].join("\n");
      expect(scanText(npmrc, options).map((f) => `${f.encoding}:${f.line}`)).toEqual([
        "base64:2",
        "base64:3",
      ]);
      const docker = JSON.stringify({ auths: { "x.azurecr.io": { auth: b64(`user:${azdo}`) } } }, null, 2);
      expect(scanText(docker, options).map((f) => f.encoding)).toEqual(["base64"]);
      const secret = `apiVersion: v1\nkind: Secret\ndata:\n  token: ${b64(azdo)}\n`;
      expect(summarize(scanText(secret, options), labels)).toEqual(["azdo base64 file.txt:4:10"]);
    });
  }

  it("finds base64 of legacy tokens, and nested base64 (a Secret holding a docker config)", () => {
    expect(summarize(scanText(`password: ${b64(legacy)}\n`), labels)).toEqual([
      "legacy base64 file.txt:1:11",
    ]);
    expect(summarize(scanText(`Authorization: Basic ${b64(`:${legacy}`)}`), labels)).toEqual([
      "legacy basic-auth file.txt:1:22",
    ]);
    const dockerConfig = JSON.stringify({ auths: { "r.azurecr.io": { auth: b64(`u:${azdo}`) } } });
    const secret = `kind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: ${b64(dockerConfig)}\n`;
    // Column: the outer group holding the start of the inner encoding of the key.
    const inner = dockerConfig.indexOf(b64(`u:${azdo}`));
    expect(summarize(scanText(secret), labels)).toEqual([
      `azdo base64 file.txt:4:${22 + Math.floor(inner / 3) * 4}`,
    ]);
    // The renderings find one level of base64 only (documented); nested needs the decoding pass.
    expect(scanText(secret, { legacy: false })).toHaveLength(0);
  });

  it("finds tokens in URL userinfo", () => {
    const text = `git clone https://me:${azdo}@dev.azure.com/o/p/_git/r\nurl = https://${legacy}@dev.azure.com/o\n`;
    expect(summarize(scanText(text), labels)).toEqual(["azdo url file.txt:1:22", "legacy url file.txt:2:15"]);
    // Not a URL: a colon-separated value followed by @ without a scheme.
    expect(scanText(`x:${azdo}@y`).map((f) => f.encoding)).toEqual(["plain"]);
  });

  it("does not decode when encodings are off", () => {
    expect(scanText(`Authorization: Basic ${b64(`me:${azdo}`)}`, { encoded: false })).toHaveLength(0);
    expect(scanText(`https://me:${azdo}@dev.azure.com`, { encoded: false }).map((f) => f.encoding)).toEqual([
      "plain",
    ]);
  });

  it("ignores base64 that does not decode to a valid key", () => {
    const fake = `${"Q".repeat(52)}JQQJ99CK${"A".repeat(16)}AZDO0000`;
    expect(scanText(`x ${b64(fake)} y`)).toHaveLength(0);
    expect(scanText(`x ${b64(fake)} y`, { legacy: false })).toHaveLength(0);
  });
});

describe("only our keys: the provider signature at 76–80 must be AZDO", () => {
  /** A checksum-valid key of the same family with another provider signature, as other services mint. */
  function foreignKey(signature: string, long = false): string {
    const ours = mintAzdo();
    const prefix = `${ours.slice(0, 76)}${signature}`;
    const checksum = expectedChecksum(prefix);
    return prefix + (long ? checksum.long : checksum.short);
  }
  const forms = (key: string): Record<string, string> => ({
    plain: `const key = "${key}";\n`,
    base64: `  token: ${b64(key)}\n`,
    "basic-auth": `Authorization: Basic ${b64(`me:${key}`)}\n`,
    url: `git clone https://me:${key}@dev.azure.com/o/p/_git/r\n`,
    nested: `  .dockerconfigjson: ${b64(JSON.stringify({ auths: { r: { auth: b64(`u:${key}`) } } }))}\n`,
  });

  for (const long of [false, true]) {
    const label = long ? "long form" : "short form";
    it(`reports none in any form, where our key in the same text is found (${label})`, () => {
      const ours = mintAzdo({ long });
      for (const signature of ["ABCD", "AZDP", "azdo", "MSFT"]) {
        const foreign = foreignKey(signature, long);
        // The key really is checksum-valid for its own family: only the signature makes it not ours.
        expect(parseToken(`${foreign.slice(0, 76)}AZDO${foreign.slice(80)}`)).toBeNull();
        expect(tokenRejection(foreign)).toContain("checksum is valid");
        for (const [form, text] of Object.entries(forms(foreign))) {
          for (const options of [{}, { legacy: false }]) {
            const found = scanText(text, options).filter((f) => f.format === "azdo-pat");
            expect(found, `${signature} ${form} ${JSON.stringify(options)}`).toEqual([]);
          }
          const diff = `commit ${"a".repeat(40)}\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+${text}`;
          expect(scanDiff(diff), `${signature} ${form} in a diff`).toEqual([]);
        }
        for (const [form, text] of Object.entries(forms(ours))) {
          const expected = form === "nested" ? "base64" : form;
          expect(
            scanText(text).map((f) => `${f.fingerprint === fingerprint(ours)} ${f.encoding}`),
            form,
          ).toEqual([`true ${expected}`]);
        }
      }
    });
  }
});
