/**
 * An issuing store on a fresh test database, with a clock the test moves, logs captured in memory (to check
 * that no token is ever logged), and a local OIDC provider (JWKS over node:http, keys from jose).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import pino from "pino";
import { type Config, loadConfig } from "../../src/config.js";
import {
  type Actor,
  IssuerStore,
  type Organization,
  type Tenant,
  type User,
} from "../../src/issuer/index.js";
import { openTestDatabase, type TestDatabase } from "./database.js";

export const ADMIN: Actor = { kind: "admin", name: "test administrator" };
export const ADMIN_KEY = "test-admin-key-0123456789abcdef";

export interface TestIssuer {
  store: IssuerStore;
  database: TestDatabase;
  config: Config;
  logger: pino.Logger;
  /** Everything logged, one JSON line per entry. */
  logs: string[];
  clock: { now(): Date; advance(ms: number): void; set(date: Date): void };
  close(): Promise<void>;
}

export async function openTestIssuer(env: Record<string, string | undefined> = {}): Promise<TestIssuer> {
  const database = await openTestDatabase();
  const config = loadConfig({
    ...process.env,
    PATROL_ADMIN_KEY: ADMIN_KEY,
    AUTH_FAILURE_LIMIT: "1000",
    // Each test store signs its audit checkpoints into its own file, never into a data directory.
    AUDIT_CHECKPOINT_FILE: path.join(tmpdir(), `patrol-checkpoints-${process.pid}-${++counter}.jsonl`),
    ...env,
  });
  const logs: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => logs.push(line) });
  let nowMs = Date.now();
  const clock = {
    now: () => new Date(nowMs),
    advance: (ms: number) => {
      nowMs += ms;
    },
    set: (date: Date) => {
      nowMs = date.getTime();
    },
  };
  const store = new IssuerStore({ db: database.db, logger, config, now: clock.now });
  return { store, database, config, logger, logs, clock, close: () => database.close() };
}

let counter = 0;
/** A unique name for tenants and organizations, so tests in one file do not collide. */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

export interface TestTenant {
  tenant: Tenant;
  org: Organization;
  otherOrg: Organization;
  alice: User;
  bob: User;
  admin: User;
}

/** A tenant with two organizations, two members (alice, bob) and a tenant administrator. */
export async function seedTenant(
  store: IssuerStore,
  oidc?: { issuer: string; audience: string; jwksUrl: string },
) {
  const tenant = await store.createTenant({ name: uniqueName("tenant"), oidc });
  const org = await store.createOrganization({ tenant: tenant.name, name: uniqueName("org") });
  const otherOrg = await store.createOrganization({ tenant: tenant.name, name: uniqueName("org") });
  const alice = await store.createUser({
    tenant: tenant.name,
    email: "alice@example.com",
    displayName: "Alice A",
  });
  const bob = await store.createUser({ tenant: tenant.name, email: "bob@example.com", displayName: "Bob B" });
  const admin = await store.createUser({
    tenant: tenant.name,
    email: "admin@example.com",
    displayName: "Ada Admin",
    role: "admin",
  });
  return { tenant, org, otherOrg, alice, bob, admin } satisfies TestTenant;
}

export const asUser = (user: User): Actor => ({ kind: "user", user });

export const inDays = (issuer: TestIssuer, days: number) =>
  new Date(issuer.clock.now().getTime() + days * 86_400_000);

export interface TestOidcProvider {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Signs a JWT with the provider's key (or another key, to test rejection). */
  sign(
    claims: JWTPayload,
    options?: {
      expiresIn?: string;
      audience?: string;
      issuer?: string;
      foreignKey?: boolean;
      /** Extra protected-header fields (e.g. typ). */
      header?: Record<string, string>;
      /** Seconds since the epoch; null leaves iat out. Default: now. */
      issuedAt?: number | null;
    },
  ): Promise<string>;
  close(): Promise<void>;
}

/** A local OIDC provider: an RS256 key pair, its JWKS served over HTTP on 127.0.0.1. */
export async function startOidcProvider(): Promise<TestOidcProvider> {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  const foreign = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "test-key", alg: "RS256", use: "sig" };
  const server: Server = createServer((req, res) => {
    if (req.url === "/jwks.json") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}/`;
  const audience = "api://patrol-tests";
  return {
    issuer,
    audience,
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    async sign(claims, options = {}) {
      // As real providers do for the addresses they have checked; tests of unverified email say so.
      const withVerified =
        "email" in claims && !("email_verified" in claims) ? { ...claims, email_verified: true } : claims;
      const jwt = new SignJWT(withVerified).setProtectedHeader({
        ...options.header,
        alg: "RS256",
        kid: "test-key",
      });
      if (options.issuedAt !== null) jwt.setIssuedAt(options.issuedAt);
      return jwt
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? audience)
        .setExpirationTime(options.expiresIn ?? "10m")
        .sign(options.foreignKey ? foreign.privateKey : privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
