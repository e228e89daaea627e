/**
 * Fetching a tenant's JWKS without letting its URL reach inside the network (SSRF). A tenant names the URL, so:
 * https only (http only to loopback outside production); no private, loopback, link-local or otherwise special
 * address unless the operator allows private addresses, checked on the address actually connected to (after
 * DNS, so a name cannot rebind past the check); no redirects; a 5 s timeout; at most 256 KiB; and after a
 * failure the URL is not fetched again for a short while. Callers get one message for every failure.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP } from "node:net";

export const JWKS_MAX_BYTES = 256 * 1024;
export const JWKS_FAILURE_CACHE_MS = 15_000;
/** What a caller is told, whatever went wrong. */
export const JWKS_FAILURE_MESSAGE = "the identity provider's signing keys could not be fetched";

/** Addresses a tenant's URL must not reach: everything but the public unicast internet. */
const SPECIAL = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  SPECIAL.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const)
  SPECIAL.addSubnet(net, prefix, "ipv6");
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

export class JwksFetchError extends Error {
  override name = "JwksFetchError";
}

export interface JwksFetchPolicy {
  /** Allow private, loopback and link-local addresses (an identity provider inside the network). */
  allowPrivate: boolean;
  /** Allow http:// to loopback addresses (development and tests). */
  allowHttpLoopback: boolean;
}

function family(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as the IPv4 address it is. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

export function addressAllowed(address: string, policy: JwksFetchPolicy, loopbackUrl: boolean): boolean {
  const plain = unmapped(address);
  if (policy.allowPrivate) return true;
  if (LOOPBACK.check(plain, family(plain))) return loopbackUrl && policy.allowHttpLoopback;
  return !SPECIAL.check(plain, family(plain));
}

const isLoopbackHost = (hostname: string) =>
  hostname === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === "[::1]";

/** A `fetch` for jose's remote JWKS (GET only), with the checks above. */
export function guardedJwksFetch(policy: JwksFetchPolicy, now: () => number = Date.now) {
  const failedUntil = new Map<string, number>();
  return async (url: string, init: { signal?: AbortSignal }): Promise<Response> => {
    const until = failedUntil.get(url);
    if (until !== undefined && until > now()) throw new JwksFetchError("an earlier fetch failed moments ago");
    try {
      const body = await fetchOnce(new URL(url), policy, init.signal);
      failedUntil.delete(url);
      return new Response(body, { status: 200, headers: { "content-type": "application/json" } });
    } catch (error) {
      failedUntil.set(url, now() + JWKS_FAILURE_CACHE_MS);
      throw error instanceof JwksFetchError ? error : new JwksFetchError((error as Error).message);
    }
  };
}

async function fetchOnce(
  url: URL,
  policy: JwksFetchPolicy,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  const loopbackUrl = isLoopbackHost(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopbackUrl && policy.allowHttpLoopback)) {
    throw new JwksFetchError(`refused scheme ${url.protocol}`);
  }
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(literal) && !addressAllowed(literal, policy, loopbackUrl)) {
    throw new JwksFetchError(`refused address ${literal}`);
  }
  // Checked on every address DNS answers, at connect time: what is checked is what is connected to.
  const lookup = (
    hostname: string,
    options: { all?: boolean },
    callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const refused = addresses.find((a) => !addressAllowed(a.address, policy, loopbackUrl));
      if (refused) return callback(new JwksFetchError(`refused address ${refused.address}`), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
  const client = url.protocol === "https:" ? https : http;
  return new Promise<Buffer>((resolve, reject) => {
    const request = client.get(
      url,
      { signal, lookup: lookup as never, headers: { accept: "application/json, application/jwk-set+json" } },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new JwksFetchError(`status ${response.statusCode}`));
          return;
        }
        const declared = Number(response.headers["content-length"]);
        if (Number.isFinite(declared) && declared > JWKS_MAX_BYTES) {
          request.destroy();
          reject(new JwksFetchError(`declared ${declared} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > JWKS_MAX_BYTES) {
            request.destroy();
            reject(new JwksFetchError(`more than ${JWKS_MAX_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on("end", () => {
          const body = Buffer.concat(chunks);
          try {
            const parsed = JSON.parse(body.toString("utf8")) as { keys?: unknown };
            if (!Array.isArray(parsed?.keys)) throw new Error("no keys array");
          } catch {
            reject(new JwksFetchError("not a JWK set"));
            return;
          }
          resolve(body);
        });
        response.on("error", reject);
      },
    );
    request.on("error", reject);
  });
}
