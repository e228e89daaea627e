/**
 * SARIF 2.1.0 as GitHub code scanning accepts it: one rule per token format, one result per finding with
 * a physical location, and a partial fingerprint (the token's SHA-256 with the path) for de-duplication.
 */
import type { Finding } from "../detect/index.js";
import type { TokenFormat } from "../tokens/index.js";
import type { Reporter, TextSink } from "./reporter.js";

const RULES: Record<TokenFormat, { name: string; text: string }> = {
  "azdo-pat": {
    name: "AzureDevOpsPersonalAccessToken",
    text: "Azure DevOps personal access token (84/88-character format)",
  },
  "azdo-pat-legacy": {
    name: "AzureDevOpsLegacyPersonalAccessToken",
    text: "Azure DevOps personal access token (legacy 52-character format)",
  },
};

export function sarifReporter(out: TextSink, toolVersion: string): Reporter {
  const results: unknown[] = [];
  return {
    write: (f: Finding) => {
      const encoded = f.encoding === "plain" ? "" : `, ${f.encoding}-encoded`;
      results.push({
        ruleId: f.format,
        level: "error",
        message: {
          text: `${RULES[f.format].text} found (${f.redacted}${encoded})${f.commit ? ` in commit ${f.commit}` : ""}. Revoke it and remove it from history.`,
        },
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri: toUri(f.path ?? "stdin") },
              region: { startLine: f.line ?? 1, startColumn: f.column ?? 1 },
            },
          },
        ],
        partialFingerprints: { "patrolTokenHash/v1": `${f.fingerprint}:${f.path ?? ""}` },
        properties: { commit: f.commit, encoding: f.encoding, checksumValid: f.checksumValid },
      });
    },
    end: () => {
      const log = {
        $schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [
          {
            tool: {
              driver: {
                name: "patrol",
                version: toolVersion,
                rules: (Object.keys(RULES) as TokenFormat[]).map((id) => ({
                  id,
                  name: RULES[id].name,
                  shortDescription: { text: RULES[id].text },
                  fullDescription: {
                    text: `${RULES[id].text}. A leaked token grants its owner's access until revoked.`,
                  },
                  defaultConfiguration: { level: "error" },
                  properties: { tags: ["security", "secret"], "security-severity": "9.0" },
                })),
              },
            },
            results,
          },
        ],
      };
      out.write(`${JSON.stringify(log, null, 2)}\n`);
    },
  };
}

/** Relative POSIX paths become URIs with each segment percent-encoded. */
function toUri(p: string): string {
  return p
    .replace(/\\/g, "/")
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}
