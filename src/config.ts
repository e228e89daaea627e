/**
 * All of patrol's configuration, read from the environment in one place and checked once.
 * Nothing else reads `process.env`. Each entry is documented in README.md ("Configuration").
 */
import path from "node:path";
import { z } from "zod";

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  HOST: z.string().default("127.0.0.1"),
  PORT: port(3000),
  TRUST_PROXY: optionalString,
  PATROL_DATA_DIR: z.string().default("./data"),
  DATABASE_URL: optionalString,
  REDIS_URL: optionalString,
  PATROL_ADMIN_KEY: optionalString,
  OIDC_ISSUER: optionalString,
  OIDC_AUDIENCE: optionalString,
  OIDC_JWKS_URL: optionalString,
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  AUTH_FAILURE_LIMIT: z.coerce.number().int().min(1).default(20),
  AUTH_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(60),
  OIDC_MAX_TOKEN_AGE_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(7200),
  OIDC_JWKS_ALLOW_PRIVATE: z.enum(["true", "false"]).default("false"),
  PATROL_AUDIT_KEY: optionalString,
  AUDIT_CHECKPOINT_FILE: optionalString,
});

export type Env = z.input<typeof schema>;

export interface Config {
  env: "development" | "production" | "test";
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  http: {
    host: string;
    port: number;
    /** Fastify's trustProxy: false, true (any), or a comma-separated list of proxy addresses/CIDRs. */
    trustProxy: boolean | string;
  };
  dataDir: string;
  /** Postgres connection string; undefined means the embedded PGlite under `dataDir`. */
  databaseUrl: string | undefined;
  /** Redis connection string; undefined means a private redis-server started by patrol. */
  redisUrl: string | undefined;
  auth: {
    adminKey: string | undefined;
    oidc: { issuer: string | undefined; audience: string | undefined; jwksUrl: string | undefined };
    failureLimit: number;
    failureWindowSeconds: number;
    /** Bearer JWTs older than this (by `iat`) are refused, whatever their `exp`. */
    maxTokenAgeSeconds: number;
    /** Let JWKS URLs reach private, loopback and link-local addresses (an IdP inside the network). */
    jwksAllowPrivate: boolean;
  };
  audit: {
    retentionDays: number;
    /** The audit chain's HMAC key (32+ bytes); never stored in the database. */
    key: Buffer | undefined;
    /** Where signed checkpoints of each tenant's chain head are appended (JSON lines). */
    checkpointFile: string;
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function parseTrustProxy(value: string | undefined): boolean | string {
  if (value === undefined || value === "false") return false;
  return value === "true" ? true : value;
}

/** Reads and checks the configuration; throws ConfigError with every problem listed. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const config: Config = {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    http: { host: e.HOST, port: e.PORT, trustProxy: parseTrustProxy(e.TRUST_PROXY) },
    dataDir: path.resolve(e.PATROL_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    auth: {
      adminKey: e.PATROL_ADMIN_KEY,
      oidc: { issuer: e.OIDC_ISSUER, audience: e.OIDC_AUDIENCE, jwksUrl: e.OIDC_JWKS_URL },
      failureLimit: e.AUTH_FAILURE_LIMIT,
      failureWindowSeconds: e.AUTH_FAILURE_WINDOW_SECONDS,
      maxTokenAgeSeconds: e.OIDC_MAX_TOKEN_AGE_SECONDS,
      jwksAllowPrivate: e.OIDC_JWKS_ALLOW_PRIVATE === "true",
    },
    audit: {
      retentionDays: e.AUDIT_RETENTION_DAYS,
      key: e.PATROL_AUDIT_KEY === undefined ? undefined : parseAuditKey(e.PATROL_AUDIT_KEY),
      checkpointFile: path.resolve(
        e.AUDIT_CHECKPOINT_FILE ?? path.join(e.PATROL_DATA_DIR, "audit-checkpoints.jsonl"),
      ),
    },
  };
  if (config.auth.adminKey !== undefined && config.auth.adminKey.length < 16) {
    throw new ConfigError("invalid configuration: PATROL_ADMIN_KEY must be at least 16 characters");
  }
  if (config.env === "production") {
    // As Probot's "development" webhook secret is refused, so is a guessable admin key or an unkeyed audit log.
    if (config.auth.adminKey !== undefined && estimatedEntropyBits(config.auth.adminKey) < 128) {
      throw new ConfigError(
        "invalid configuration: PATROL_ADMIN_KEY is too weak for production (under 128 bits by length x character entropy); use e.g. `openssl rand -hex 32`",
      );
    }
    if (config.audit.key === undefined) {
      throw new ConfigError(
        "invalid configuration: PATROL_AUDIT_KEY is required in production (64 hex characters, e.g. `openssl rand -hex 32`)",
      );
    }
  }
  return config;
}

/** 64+ hex characters, or base64 of 32+ bytes. */
function parseAuditKey(value: string): Buffer {
  const key = /^[0-9a-fA-F]+$/.test(value) ? Buffer.from(value, "hex") : Buffer.from(value, "base64");
  if (key.length < 32 || (!/^[0-9a-fA-F]+$/.test(value) && !/^[A-Za-z0-9+/_-]+={0,2}$/.test(value))) {
    throw new ConfigError(
      "invalid configuration: PATROL_AUDIT_KEY must be 32 or more bytes, as hex or base64 (e.g. `openssl rand -hex 32`)",
    );
  }
  return key;
}

/** A simple strength test: length times the Shannon entropy of the key's own characters. */
export function estimatedEntropyBits(secret: string): number {
  const counts = new Map<string, number>();
  for (const c of secret) counts.set(c, (counts.get(c) ?? 0) + 1);
  const length = [...secret].length;
  let perCharacter = 0;
  for (const n of counts.values()) perCharacter -= (n / length) * Math.log2(n / length);
  return perCharacter * length;
}
