/**
 * Who is asking, for the queue dashboard: a role from `Authorization: Bearer KEY` (scripts) or from the signed
 * session cookie the login page sets (browsers), plus the small guards around that — a throttle on failed
 * logins and the same-origin check that keeps other sites from driving an admin's browser.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { fastifyCookie } from "@fastify/cookie";

export type DashboardRole = "admin" | "viewer";

export type DashboardAuth =
  | { role: DashboardRole; via: "bearer" | "cookie" }
  /** A bearer key that matches neither key: a guess, counted by the throttle. */
  | { role: undefined; via: "bearer" }
  | { role: undefined; via: "none" };

export const SESSION_COOKIE = "patrol_dashboard";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * The keys that grant each role, compared in constant time: both sides are hashed first so that neither the
 * length nor the content of a guess shows in the timing, and both keys are always checked.
 */
export class DashboardKeys {
  readonly #admin: Buffer | undefined;
  readonly #viewer: Buffer | undefined;

  constructor(adminKey: string | undefined, viewerKey: string | undefined) {
    this.#admin = adminKey === undefined ? undefined : sha256(adminKey);
    this.#viewer = viewerKey === undefined ? undefined : sha256(viewerKey);
  }

  get configured(): boolean {
    return this.#admin !== undefined || this.#viewer !== undefined;
  }

  roleOf(key: string): DashboardRole | undefined {
    const given = sha256(key);
    const isAdmin = this.#admin !== undefined && timingSafeEqual(given, this.#admin);
    const isViewer = this.#viewer !== undefined && timingSafeEqual(given, this.#viewer);
    if (isAdmin) return "admin";
    return isViewer ? "viewer" : undefined;
  }

  /** A digest of both keys: sessions are signed with it mixed in, so changing either key ends every session. */
  get digest(): Buffer {
    return createHash("sha256")
      .update(this.#admin ?? Buffer.alloc(0))
      .update("\0")
      .update(this.#viewer ?? Buffer.alloc(0))
      .digest();
  }
}

/**
 * Session cookies: `role.expiresAt` signed with HMAC-SHA256 by @fastify/cookie's signer. Stateless, so any
 * number of web processes sharing the secret accept each other's sessions.
 */
export class DashboardSessions {
  readonly #signer: ReturnType<typeof fastifyCookie.signerFactory>;

  constructor(
    secret: string,
    keys: DashboardKeys,
    readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    const signingKey = createHmac("sha256", secret).update("patrol dashboard session\n").update(keys.digest);
    this.#signer = fastifyCookie.signerFactory(signingKey.digest());
  }

  issue(role: DashboardRole): string {
    const expiresAt = Math.floor(this.now() / 1000) + this.ttlSeconds;
    return this.#signer.sign(`${role}.${expiresAt}`);
  }

  verify(cookieValue: string): DashboardRole | undefined {
    const { valid, value } = this.#signer.unsign(cookieValue);
    if (!valid || value === null) return undefined;
    const match = /^(admin|viewer)\.(\d{1,12})$/.exec(value);
    if (!match || Number(match[2]) * 1000 <= this.now()) return undefined;
    return match[1] as DashboardRole;
  }
}

export function authenticate(
  headers: IncomingHttpHeaders,
  keys: DashboardKeys,
  sessions: DashboardSessions,
  parseCookie: (header: string) => Record<string, string | undefined>,
): DashboardAuth {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    // Another scheme (Basic, say) is not ours: it grants nothing, and a browser session may still apply.
    if (bearer) {
      const role = keys.roleOf(bearer[1]);
      return role === undefined ? { role: undefined, via: "bearer" } : { role, via: "bearer" };
    }
  }
  const cookieHeader = headers.cookie;
  if (cookieHeader !== undefined) {
    const value = parseCookie(cookieHeader)[SESSION_COOKIE];
    const role = value === undefined ? undefined : sessions.verify(value);
    if (role !== undefined) return { role, via: "cookie" };
  }
  return { role: undefined, via: "none" };
}

/**
 * Failed logins (and wrong bearer keys) per client address in a fixed window; past the limit every attempt
 * from that address is refused until the window ends — a correct key too, or the throttle would be an oracle.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, { count: number; windowEndsAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowSeconds: number,
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until this address may try again; 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const entry = this.#failures.get(address);
    if (entry === undefined) return 0;
    const left = entry.windowEndsAt - this.now();
    if (left <= 0) {
      this.#failures.delete(address);
      return 0;
    }
    return entry.count >= this.limit ? Math.ceil(left / 1000) : 0;
  }

  recordFailure(address: string): void {
    const now = this.now();
    const entry = this.#failures.get(address);
    if (entry !== undefined && entry.windowEndsAt > now) {
      entry.count++;
      return;
    }
    if (this.#failures.size >= this.maxAddresses) this.#evict(now);
    this.#failures.set(address, { count: 1, windowEndsAt: now + this.windowSeconds * 1000 });
  }

  /** Bounded memory under a spray from many addresses: drop ended windows, else the oldest entries. */
  #evict(now: number): void {
    for (const [address, entry] of this.#failures)
      if (entry.windowEndsAt <= now) this.#failures.delete(address);
    for (const address of this.#failures.keys()) {
      if (this.#failures.size < this.maxAddresses) break;
      this.#failures.delete(address);
    }
  }
}

/**
 * CSRF defence for requests a browser makes with the session cookie. SameSite=Strict already keeps the cookie
 * off cross-site requests; this also refuses any state-changing request the browser says came from elsewhere:
 * `Sec-Fetch-Site`, when sent, must be `same-origin`, and `Origin`, when sent, must be ours. A request with
 * neither is refused (browsers send Origin on every non-GET fetch and form post).
 */
export function isSameOriginRequest(headers: IncomingHttpHeaders, expectedOrigin: string): boolean {
  const fetchSite = headers["sec-fetch-site"];
  const origin = headers.origin;
  if (fetchSite === undefined && origin === undefined) return false;
  if (fetchSite !== undefined && fetchSite !== "same-origin") return false;
  return origin === undefined || origin.toLowerCase() === expectedOrigin.toLowerCase();
}
