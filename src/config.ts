/**
 * All of patrol's configuration, read from the environment in one place and checked once.
 * Nothing else reads `process.env`. Each entry is documented in README.md ("Configuration").
 */
import { tmpdir } from "node:os";
import path from "node:path";
import { getPrivateKey } from "@probot/get-private-key";
import { z } from "zod";

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const flag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off", ""])
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : ["true", "1", "yes", "on"].includes(v)));

const count = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

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
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9{}_.-]{1,64}$/, "letters, digits, braces, _ . - only")
    .default("{patrol}"),
  SCAN_CONCURRENCY: count(16, 256),
  RESPOND_CONCURRENCY: count(16, 1024),
  SCAN_PRIVATE: flag(false),
  SCAN_MAX_BLOB_BYTES: count(10 * 1024 * 1024, 100 * 1024 * 1024),
  HISTORY_CONCURRENCY: count(1, 64),
  HISTORY_MAX_CLONE_BYTES: count(2 * 1024 * 1024 * 1024, 1024 * 1024 * 1024 * 1024),
  HISTORY_TEMP_DIR: optionalString,
  APP_ID: optionalString,
  PRIVATE_KEY: optionalString,
  PRIVATE_KEY_PATH: optionalString,
  WEBHOOK_SECRET: optionalString,
  WEBHOOK_REDELIVERY_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  GHE_HOST: optionalString,
  GHE_PROTOCOL: z.enum(["http", "https"]).default("https"),
  SMTP_URL: optionalString,
  MAIL_FROM: z.string().default("patrol <patrol@localhost>"),
  PATROL_ADMIN_KEY: optionalString,
  PATROL_VIEWER_KEY: optionalString,
  PATROL_SESSION_SECRET: optionalString,
  PATROL_SECURE_COOKIES: z.enum(["true", "false"]).optional(),
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
  queue: {
    /** BullMQ key prefix; hash-tagged (`{patrol}`) so each queue's keys share one Redis Cluster slot. */
    prefix: string;
    scanConcurrency: number;
    respondConcurrency: number;
  };
  github: {
    /** Both set: the GitHub App is configured and webhooks are taken. */
    appId: number | undefined;
    privateKey: string | undefined;
    webhookSecret: string | undefined;
    /** REST base: `https://api.github.com`, or `{GHE_PROTOCOL}://{GHE_HOST}/api/v3`. */
    apiBaseUrl: string;
    /** Where people see repositories: `https://github.com` or `{GHE_PROTOCOL}://{GHE_HOST}`. */
    webBaseUrl: string;
    scanPrivate: boolean;
    maxBlobBytes: number;
    /** How often workers ask GitHub to redeliver failed webhooks (ms); null: never (0, or no GitHub App). */
    redeliveryIntervalMs: number | null;
    /** Whole-history scans: clones at most this big (and need this much free disk), under `tempDir`. */
    history: { concurrency: number; maxCloneBytes: number; tempDir: string };
  };
  mail: {
    /** SMTP server; undefined means `.eml` files in `{dataDir}/outbox`. */
    smtpUrl: string | undefined;
    from: string;
  };
  dashboard: {
    /** Read-only access to the queue dashboard (the admin key gives full access). */
    viewerKey: string | undefined;
    /** Signs dashboard session cookies; undefined means a secret generated into `dataDir` (not in production). */
    sessionSecret: string | undefined;
    /** The session cookie's `Secure` flag: on in production unless PATROL_SECURE_COOKIES=false. */
    secureCookies: boolean;
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
    queue: {
      prefix: e.QUEUE_PREFIX,
      scanConcurrency: e.SCAN_CONCURRENCY,
      respondConcurrency: e.RESPOND_CONCURRENCY,
    },
    github: githubConfig(e),
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    dashboard: {
      viewerKey: e.PATROL_VIEWER_KEY,
      sessionSecret: e.PATROL_SESSION_SECRET,
      secureCookies:
        e.PATROL_SECURE_COOKIES === undefined
          ? e.NODE_ENV === "production"
          : e.PATROL_SECURE_COOKIES === "true",
    },
  };
  if (config.auth.adminKey !== undefined && config.auth.adminKey.length < 16) {
    throw new ConfigError("invalid configuration: PATROL_ADMIN_KEY must be at least 16 characters");
  }
  if (config.env === "production" && config.github.appId !== undefined) {
    // Probot would silently verify webhooks against "development": anyone could forge a push.
    if (!config.github.webhookSecret || config.github.webhookSecret === "development")
      throw new ConfigError(
        'invalid configuration: WEBHOOK_SECRET must be set (and not "development") in production',
      );
  }
  const { viewerKey, sessionSecret } = config.dashboard;
  if (viewerKey !== undefined && viewerKey.length < 16) {
    throw new ConfigError("invalid configuration: PATROL_VIEWER_KEY must be at least 16 characters");
  }
  if (viewerKey !== undefined && viewerKey === config.auth.adminKey) {
    throw new ConfigError("invalid configuration: PATROL_VIEWER_KEY must differ from PATROL_ADMIN_KEY");
  }
  if (sessionSecret !== undefined && sessionSecret.length < 32) {
    throw new ConfigError("invalid configuration: PATROL_SESSION_SECRET must be at least 32 characters");
  }
  // In production every web process must sign sessions with one secret chosen by the operator.
  if (config.env === "production" && sessionSecret === undefined && (viewerKey ?? config.auth.adminKey)) {
    throw new ConfigError(
      "invalid configuration: PATROL_SESSION_SECRET is required in production when a dashboard key is set",
    );
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

function githubConfig(e: z.output<typeof schema>): Config["github"] {
  const web = e.GHE_HOST ? `${e.GHE_PROTOCOL}://${e.GHE_HOST}` : "https://github.com";
  const api = e.GHE_HOST ? `${web}/api/v3` : "https://api.github.com";
  let appId: number | undefined;
  if (e.APP_ID !== undefined) {
    appId = Number(e.APP_ID);
    if (!Number.isSafeInteger(appId) || appId < 1)
      throw new ConfigError("invalid configuration: APP_ID must be the GitHub App's numeric id");
  }
  let privateKey: string | undefined;
  if (e.PRIVATE_KEY !== undefined || e.PRIVATE_KEY_PATH !== undefined) {
    try {
      // Probot's own reader: raw PEM, `\n`-escaped or base64 PRIVATE_KEY, else the file at PRIVATE_KEY_PATH.
      privateKey =
        getPrivateKey({ env: { PRIVATE_KEY: e.PRIVATE_KEY, PRIVATE_KEY_PATH: e.PRIVATE_KEY_PATH } }) ??
        undefined;
    } catch (error) {
      throw new ConfigError(
        `invalid configuration: PRIVATE_KEY/PRIVATE_KEY_PATH: ${(error as Error).message}`,
      );
    }
  }
  if ((appId === undefined) !== (privateKey === undefined))
    throw new ConfigError("invalid configuration: APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) go together");
  return {
    appId,
    privateKey,
    webhookSecret: e.WEBHOOK_SECRET,
    apiBaseUrl: api,
    webBaseUrl: web,
    scanPrivate: e.SCAN_PRIVATE,
    maxBlobBytes: e.SCAN_MAX_BLOB_BYTES,
    redeliveryIntervalMs:
      appId === undefined || e.WEBHOOK_REDELIVERY_INTERVAL_SECONDS === 0
        ? null
        : e.WEBHOOK_REDELIVERY_INTERVAL_SECONDS * 1000,
    history: {
      concurrency: e.HISTORY_CONCURRENCY,
      maxCloneBytes: e.HISTORY_MAX_CLONE_BYTES,
      tempDir: path.resolve(e.HISTORY_TEMP_DIR ?? tmpdir()),
    },
  };
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

/** The environment child processes (git) start from, plus `extra`: the one other place env is read. */
export function childEnvironment(extra: Record<string, string>): Record<string, string | undefined> {
  return { ...process.env, ...extra };
}
