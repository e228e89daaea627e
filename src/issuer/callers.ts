/**
 * Who is calling the lifecycle and admin API: an administrator holding the admin API key, or a user signed in
 * with the tenant's OpenID Connect provider (a bearer JWT). Never a PAT.
 *
 * OIDC mapping: the JWT must verify against the tenant's JWKS (or the service default) with the tenant's issuer
 * and audience, carry `sub` (a string), `exp` and `iat` (no older than the configured maximum age), and, when
 * it names a `typ`, a JWT type. Clocks may differ by up to 30 seconds. The user is found by `sub` among the
 * tenant's users; failing that, by the `email` claim, only when `email_verified` is the boolean true and the
 * user has no subject bound yet. That first sign-in binds `sub` to the user for good (in SQL, so two racing
 * first sign-ins cannot both bind), so a later change of email at the provider cannot move the account.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import {
  createRemoteJWKSet,
  customFetch,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  type ProtectedHeaderParameters,
} from "jose";
import { emailSchema, findUserByEmail, findUserBySubject, recordSignIn, subjectSchema } from "./directory.js";
import { forbidden, unauthenticated } from "./errors.js";
import { guardedJwksFetch, JWKS_FAILURE_MESSAGE, JwksFetchError } from "./jwks-fetch.js";
import type { Actor, StoreContext, Tenant } from "./model.js";

/** The clock difference accepted between patrol and the identity provider, in seconds. */
export const JWT_CLOCK_SKEW_SECONDS = 30;
/** `typ` values that say "this is a JWT" (RFC 7519, RFC 9068 access tokens); compared without "application/". */
const JWT_TYPES = new Set(["jwt", "at+jwt"]);

const JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];
export const ADMIN_KEY_HEADER = "x-patrol-admin-key";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Constant-time comparison (of fixed-length digests, so the length of the key does not leak either). */
export function adminKeyMatches(presented: string, adminKey: string | undefined): boolean {
  if (adminKey === undefined) return false;
  return timingSafeEqual(digest(presented), digest(adminKey));
}

export interface CallerHeaders {
  authorization?: string | undefined;
  adminKey?: string | undefined;
}

export class CallerAuthenticator {
  private readonly jwksByUrl = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  private readonly fetchJwks: ReturnType<typeof guardedJwksFetch>;

  constructor(
    private readonly ctx: StoreContext,
    private readonly adminKey: string | undefined,
  ) {
    this.fetchJwks = guardedJwksFetch({
      allowPrivate: ctx.oidcPolicy.jwksAllowPrivate,
      allowHttpLoopback: ctx.oidcPolicy.allowHttpLoopback,
    });
  }

  /**
   * Authenticates the caller. `tenant` is the tenant the request is about (from its organization or path);
   * OIDC needs it to know which provider to trust. Throws 401 (no valid credentials) or 403 (valid, but
   * not a usable user of this tenant).
   */
  async authenticate(headers: CallerHeaders, tenant: Tenant | null): Promise<Actor> {
    if (headers.adminKey !== undefined) {
      if (adminKeyMatches(headers.adminKey, this.adminKey))
        return { kind: "admin", name: "administrator (API key)" };
      throw unauthenticated("the admin API key is not valid");
    }
    const authorization = headers.authorization?.trim();
    if (!authorization) throw unauthenticated("sign in: send an OIDC bearer token or the admin API key");
    const [scheme, ...rest] = authorization.split(/\s+/);
    const credential = rest.join(" ");
    if (scheme.toLowerCase() === "basic") {
      throw unauthenticated("PATs cannot manage PATs or policies: sign in with your identity provider");
    }
    if (scheme.toLowerCase() !== "bearer" || credential === "") {
      throw unauthenticated("unsupported Authorization scheme: use Bearer");
    }
    if (adminKeyMatches(credential, this.adminKey)) return { kind: "admin", name: "administrator (API key)" };
    if (credential.split(".").length !== 3) throw unauthenticated("the bearer token is not a valid JWT");
    if (tenant === null) throw unauthenticated("this endpoint takes the admin API key only");
    return this.signInWithOidc(credential, tenant);
  }

  private jwks(url: string) {
    let jwks = this.jwksByUrl.get(url);
    if (!jwks) {
      // jose caches the key set and refetches it (rate-limited) when a token names an unknown key id.
      jwks = createRemoteJWKSet(new URL(url), {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
        [customFetch]: this.fetchJwks,
      });
      this.jwksByUrl.set(url, jwks);
    }
    return jwks;
  }

  private async signInWithOidc(jwt: string, tenant: Tenant): Promise<Actor> {
    const issuer = tenant.oidc.issuer ?? this.ctx.oidcDefaults.issuer;
    const audience = tenant.oidc.audience ?? this.ctx.oidcDefaults.audience;
    const jwksUrl = tenant.oidc.jwksUrl ?? this.ctx.oidcDefaults.jwksUrl;
    if (!issuer || !audience || !jwksUrl) {
      throw unauthenticated(`OIDC sign-in is not configured for tenant ${tenant.name}`);
    }
    let claims: JWTPayload;
    let header: ProtectedHeaderParameters;
    try {
      ({ payload: claims, protectedHeader: header } = await jwtVerify(jwt, this.jwks(jwksUrl), {
        issuer,
        audience,
        algorithms: JWT_ALGORITHMS,
        requiredClaims: ["sub", "exp", "iat"],
        maxTokenAge: this.ctx.oidcPolicy.maxTokenAgeSeconds,
        clockTolerance: JWT_CLOCK_SKEW_SECONDS,
      }));
    } catch (error) {
      this.ctx.logger.info(
        { tenant: tenant.name, reason: describeJoseError(error), detail: (error as Error).message },
        "OIDC token rejected",
      );
      throw unauthenticated(`the bearer token was rejected: ${describeJoseError(error)}`);
    }
    if (header.typ !== undefined && !JWT_TYPES.has(header.typ.toLowerCase().replace(/^application\//, ""))) {
      throw unauthenticated("the bearer token was rejected: its typ is not a JWT type");
    }
    const subject = subjectSchema.safeParse(claims.sub);
    if (!subject.success) throw unauthenticated("the bearer token was rejected: claim sub is not valid");
    let user = await findUserBySubject(this.ctx.db, tenant.id, subject.data);
    if (!user) {
      // Only a verified email binds: email_verified must be the boolean true, and only the email claim counts.
      const email =
        claims.email_verified === true ? emailSchema.safeParse(claims.email) : { success: false as const };
      const byEmail = email.success ? await findUserByEmail(this.ctx.db, tenant.id, email.data) : null;
      if (byEmail && byEmail.subject === null) user = byEmail;
    }
    if (!user) throw forbidden(`you are not a user of tenant ${tenant.name}`, "accessDenied");
    if (user.status !== "active") throw forbidden("your user is disabled", "accessDenied");
    const signedIn = await recordSignIn(this.ctx.db, user, subject.data);
    if (!signedIn) throw forbidden(`you are not a user of tenant ${tenant.name}`, "accessDenied");
    return { kind: "user", user: signedIn };
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "it has expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim ${error.claim} is not valid`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "its signature does not verify";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "no key in the JWKS matches it";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "its algorithm is not allowed";
  // One message for every way the fetch can fail: what the URL led to is not the caller's business.
  if (error instanceof joseErrors.JWKSTimeout || error instanceof JwksFetchError) return JWKS_FAILURE_MESSAGE;
  if (error instanceof joseErrors.JWKSInvalid || error instanceof joseErrors.JWKSMultipleMatchingKeys)
    return JWKS_FAILURE_MESSAGE;
  if (error instanceof joseErrors.JOSEError) return error.code;
  return JWKS_FAILURE_MESSAGE;
}
