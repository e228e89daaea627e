import { createHash } from "node:crypto";

/** SHA-256 of the token's ASCII, hex: what the store keeps and what GitHub's partner feedback uses. */
export function fingerprint(token: string | Uint8Array): string {
  return createHash("sha256").update(token).digest("hex");
}

/** For people: the first 4 characters, an ellipsis and the last 4 (e.g. `Ab3x…1xwm`). */
export function redact(token: string): string {
  if (token.length <= 12) return "…";
  return `${token.slice(0, 4)}…${token.slice(-4)}`;
}
