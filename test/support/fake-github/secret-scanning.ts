/**
 * GitHub's secret-scanning partner alerts, for issue 9's tests: a signing key like GitHub's (ECDSA P-256), the
 * entry the fake serves for it at `GET /meta/public_keys/secret_scanning`, and the POST GitHub makes.
 *
 *   const key = createSecretScanningKey();
 *   gh.setSecretScanningKeys([key.publicKey]);
 *   const response = await postPartnerAlert(`${patrol}/api/github/secret-scanning`, key,
 *     [{ token, type: "azure_devops_pat", url: "https://github.com/o/r/blob/sha/f#L1", source: "content" }]);
 *
 * The signature is base64 of the DER ECDSA-SHA256 signature over the raw body, in `Github-Public-Key-Signature`,
 * with the key's id in `Github-Public-Key-Identifier`. `sign()` also serves tests that tamper with the body.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import type { SecretScanningKey } from "./rest.js";

export interface PartnerMatch {
  token: string;
  type: string;
  url: string;
  source: string;
}

export interface SecretScanningSigner {
  keyIdentifier: string;
  /** The entry to serve in `public_keys`. */
  publicKey: SecretScanningKey;
  privateKey: KeyObject;
  /** Base64 DER ECDSA P-256 SHA-256 signature over `body`. */
  sign(body: string | Buffer): string;
  headers(body: string | Buffer): Record<string, string>;
}

export function createSecretScanningKey(options: { isCurrent?: boolean } = {}): SecretScanningSigner {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const der = publicKey.export({ type: "spki", format: "der" });
  const keyIdentifier = createHash("sha256").update(der).digest("hex");
  const signBody = (body: string | Buffer) =>
    sign("sha256", Buffer.from(body), { key: privateKey, dsaEncoding: "der" }).toString("base64");
  return {
    keyIdentifier,
    publicKey: {
      key_identifier: keyIdentifier,
      key: publicKey.export({ type: "spki", format: "pem" }).toString(),
      is_current: options.isCurrent ?? true,
    },
    privateKey,
    sign: signBody,
    headers: (body) => ({
      "content-type": "application/json",
      "github-public-key-identifier": keyIdentifier,
      "github-public-key-signature": signBody(body),
    }),
  };
}

/** POSTs matches as GitHub's partner program does; a string body is sent as is. */
export async function postPartnerAlert(
  url: string,
  signer: SecretScanningSigner,
  matches: PartnerMatch[] | string,
): Promise<{ status: number; body: string }> {
  const body = typeof matches === "string" ? matches : JSON.stringify(matches);
  const response = await fetch(url, {
    method: "POST",
    headers: { ...signer.headers(body), "user-agent": "GitHub-Secret-Scanning" },
    body,
  });
  return { status: response.status, body: await response.text() };
}
