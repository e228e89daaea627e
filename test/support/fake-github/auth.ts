/**
 * How the fake GitHub authenticates, as GitHub does for an app: `/app/*` endpoints take the app's JWT (RS256,
 * `iss` = app id, signed with the app's private key, at most 10 minutes long); everything else takes an
 * installation access token (`authorization: token <t>` or `Bearer <t>`), issued by
 * `POST /app/installations/{id}/access_tokens`, valid for an hour, optionally limited to some repositories.
 * Git over smart HTTP takes the same token as the basic-auth password of user `x-access-token`.
 */
import { generateKeyPair, type KeyObject, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { jwtVerify } from "jose";

export interface TokenGrant {
  token: string;
  installationId: number;
  /** Repository ids the token is limited to; undefined: every repository of the installation. */
  repositoryIds?: Set<number>;
  expiresAt: Date;
}

export type AuthResult<T> = { ok: true; value: T } | { ok: false; message: string };

export class AppAuthority {
  private readonly grants = new Map<string, TokenGrant>();

  private constructor(
    readonly appId: number,
    private readonly tokenLifetimeMs: number,
    /** PKCS#1 ("BEGIN RSA PRIVATE KEY"), the form GitHub hands out app keys in. */
    readonly privateKeyPem: string,
    private readonly publicKey: KeyObject,
  ) {}

  /** An app with a fresh 2048-bit RSA key (generated off the main thread). */
  static async create(appId: number, tokenLifetimeMs: number): Promise<AppAuthority> {
    const { privateKey, publicKey } = await promisify(generateKeyPair)("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
    return new AppAuthority(appId, tokenLifetimeMs, pem, publicKey);
  }

  /** Checks an `authorization: Bearer <jwt>` header for this app. */
  async verifyAppJwt(authorization: string | undefined): Promise<AuthResult<true>> {
    const jwt = /^bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
    if (!jwt) return { ok: false, message: "A JSON web token could not be decoded" };
    try {
      const { payload } = await jwtVerify(jwt, this.publicKey, { algorithms: ["RS256"], clockTolerance: 60 });
      if (String(payload.iss) !== String(this.appId)) {
        return { ok: false, message: "'Issuer' claim ('iss') must be an Integer" };
      }
      const nowSeconds = Date.now() / 1000;
      if (payload.exp === undefined || payload.exp > nowSeconds + 600 + 60) {
        return { ok: false, message: "'Expiration time' claim ('exp') is too far in the future" };
      }
      return { ok: true, value: true };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED") {
        return {
          ok: false,
          message:
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        };
      }
      return { ok: false, message: "A JSON web token could not be decoded" };
    }
  }

  issueToken(installationId: number, repositoryIds?: Set<number>): TokenGrant {
    const grant: TokenGrant = {
      token: `ghs_${randomBytes(27).toString("base64url").replace(/[-_]/g, "x").slice(0, 36)}`,
      installationId,
      repositoryIds,
      expiresAt: new Date(Date.now() + this.tokenLifetimeMs),
    };
    this.grants.set(grant.token, grant);
    return grant;
  }

  /** The grant behind `authorization: token|Bearer <t>` (or a bare token), if it is live. */
  checkToken(authorization: string | undefined): AuthResult<TokenGrant> {
    if (!authorization) return { ok: false, message: "Requires authentication" };
    const token = /^(?:token|bearer)\s+(\S+)$/i.exec(authorization)?.[1] ?? authorization;
    return this.checkBareToken(token);
  }

  checkBareToken(token: string): AuthResult<TokenGrant> {
    const grant = this.grants.get(token);
    if (!grant || grant.expiresAt.getTime() <= Date.now()) return { ok: false, message: "Bad credentials" };
    return { ok: true, value: grant };
  }

  /** Expires every token issued so far (clients must fetch a new one). */
  revokeAll(): void {
    this.grants.clear();
  }
}
