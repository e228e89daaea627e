/**
 * GitHub's secret-scanning partner endpoint: GitHub POSTs the PAT-shaped strings it found in public places as
 * `[{token, type, url, source}]`, signed with ECDSA P-256 (SHA-256, DER, base64) over the raw body. patrol checks
 * the signature against GitHub's published keys, turns every token into its fingerprint at once, looks the
 * fingerprints up in one query, queues a respond job per match and answers each entry in request order with
 * `true_positive` (ours) or `false_positive`. An unverifiable request is answered 400/401 and not acted on.
 */
import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { IssuerStore } from "../issuer/index.js";
import { partnerAlertsRefused, partnerMatches } from "../metrics/index.js";
import type { LeakReport, ReportedLocation } from "../respond/index.js";
import { fingerprint, parseToken, redact, type TokenFormat } from "../tokens/index.js";

export const SECRET_SCANNING_PATH = "/api/github/secret-scanning";
/** Alerts are small; anything bigger is not GitHub. */
const MAX_BODY = 1024 * 1024;
/** GitHub's identifiers are SHA-256 hex; allow some room, never arbitrary text in logs. */
const KEY_IDENTIFIER = /^[A-Za-z0-9_-]{1,128}$/;
/** Placeholders for what an alert URL does not say (the store requires them; see README). */
export const UNKNOWN_COMMIT = "unknown";
export const UNKNOWN_PATH = "unknown";

/** GitHub's signing keys could not be fetched: the alert cannot be checked now (503, GitHub may resend). */
export class SigningKeysUnavailableError extends Error {}

export interface SigningKeyOptions {
  /** REST base (config.github.apiBaseUrl): the keys come from `{apiBaseUrl}/meta/public_keys/secret_scanning`. */
  apiBaseUrl: string;
  fetchTimeoutMs?: number;
  /** No two fetches closer than this: a flood of bogus identifiers cannot hammer GitHub. */
  minRefetchIntervalMs?: number;
  /** An identifier still unknown after a fetch triggers no new fetch for this long. */
  unknownIdentifierTtlMs?: number;
}

const publicKeysSchema = z.object({
  public_keys: z.array(z.object({ key_identifier: z.string(), key: z.string() }).loose()),
});

/**
 * GitHub's secret-scanning public keys, by identifier. Fetched (without authentication: the endpoint is public)
 * on the first alert and again when an alert names an identifier not seen yet — once per identifier.
 */
export class SecretScanningKeys {
  private readonly keys = new Map<string, KeyObject>();
  private readonly unknown = new Map<string, number>();
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | null = null;
  private readonly url: string;
  private readonly fetchTimeoutMs: number;
  private readonly minRefetchIntervalMs: number;
  private readonly unknownIdentifierTtlMs: number;

  constructor(options: SigningKeyOptions) {
    this.url = `${options.apiBaseUrl.replace(/\/+$/, "")}/meta/public_keys/secret_scanning`;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
    this.minRefetchIntervalMs = options.minRefetchIntervalMs ?? 5000;
    this.unknownIdentifierTtlMs = options.unknownIdentifierTtlMs ?? 10 * 60_000;
  }

  /** The key for `identifier`, or null when GitHub does not publish it. Throws SigningKeysUnavailableError. */
  async get(identifier: string): Promise<KeyObject | null> {
    const known = this.keys.get(identifier);
    if (known) return known;
    const missedAt = this.unknown.get(identifier);
    if (missedAt !== undefined && Date.now() - missedAt < this.unknownIdentifierTtlMs) return null;
    if (Date.now() - this.lastFetchAt >= this.minRefetchIntervalMs || this.inFlight) await this.refresh();
    const found = this.keys.get(identifier);
    if (found) return found;
    // Bounded: a flood of made-up identifiers cannot grow memory without limit.
    if (this.unknown.size >= 10_000) this.unknown.clear();
    this.unknown.set(identifier, Date.now());
    return null;
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.fetchKeys().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async fetchKeys(): Promise<void> {
    this.lastFetchAt = Date.now();
    let body: unknown;
    try {
      const response = await fetch(this.url, {
        headers: { accept: "application/json", "user-agent": "patrol" },
        signal: AbortSignal.timeout(this.fetchTimeoutMs),
      });
      if (!response.ok) throw new Error(`GitHub answered ${response.status}`);
      body = await response.json();
    } catch (error) {
      throw new SigningKeysUnavailableError(
        `GitHub's secret-scanning keys could not be fetched from ${this.url}: ${(error as Error).message}`,
      );
    }
    const parsed = publicKeysSchema.safeParse(body);
    if (!parsed.success)
      throw new SigningKeysUnavailableError(
        `GitHub's secret-scanning keys at ${this.url} are not in the known shape`,
      );
    for (const entry of parsed.data.public_keys) {
      try {
        const key = createPublicKey(entry.key);
        if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
          this.keys.set(entry.key_identifier, key);
          this.unknown.delete(entry.key_identifier);
        }
      } catch {
        // A key we cannot read verifies nothing; the others still do.
      }
    }
  }
}

const alertSchema = z
  .array(
    z
      .object({
        token: z.string(),
        type: z.string().max(256),
        url: z.string().max(8192).optional(),
        source: z.string().max(256).optional(),
      })
      .loose(),
  )
  .max(10_000);

export type PartnerLabel = "true_positive" | "false_positive";

export interface PartnerAnswer {
  token_hash: string;
  token_type: string;
  label: PartnerLabel;
}

export interface SecretScanningRouteOptions {
  keys: SecretScanningKeys;
  store: Pick<IssuerStore, "findByFingerprints">;
  /** Puts the matches on the respond queue; throws when it cannot (the alert is then answered 503). */
  enqueueLeaks(reports: LeakReport[]): Promise<void>;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function verifies(body: Buffer, key: KeyObject, signature: string): boolean {
  try {
    return verify("sha256", body, { key, dsaEncoding: "der" }, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

/**
 * Where an alert says the token is. GitHub's content URLs look like
 * `https://github.com/{owner}/{name}/blob/{sha}/{path}#L{line}`; commit URLs `…/{owner}/{name}/commit/{sha}`.
 * What the URL does not say takes a placeholder: repository `owner/name` when the URL's path starts with two
 * segments, else the URL's host; commit `unknown`; path `unknown`; line 1. The URL itself is kept as the link.
 */
export function alertLocation(url: string | undefined): ReportedLocation {
  const link = url && url.length <= 2048 && /^https?:\/\//i.test(url) ? url : null;
  const location: ReportedLocation = {
    repository: "unknown",
    commit: UNKNOWN_COMMIT,
    path: UNKNOWN_PATH,
    line: 1,
    url: link,
  };
  if (!link) return location;
  let parsed: URL;
  try {
    parsed = new URL(link);
  } catch {
    return location;
  }
  const segments = parsed.pathname.split("/").filter(Boolean).map(safeDecode);
  location.repository = segments.length >= 2 ? `${segments[0]}/${segments[1]}` : parsed.host || "unknown";
  const kind = segments[2];
  const sha = segments[3];
  if ((kind === "blob" || kind === "commit") && sha && /^[0-9a-f]{7,64}$/i.test(sha)) {
    location.commit = sha.toLowerCase();
    const path = segments.slice(4).join("/");
    if (kind === "blob" && path) location.path = path.slice(0, 4096);
    const line = /^#L(\d{1,9})/.exec(parsed.hash);
    if (line && Number(line[1]) >= 1) location.line = Number(line[1]);
  }
  return location;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Job ids and correlation ids come from the alert's content, so the same match sent again is the same job. */
function alertCorrelationId(url: string | undefined): string {
  return `secret-scanning-${createHash("sha256")
    .update(url ?? "")
    .digest("hex")
    .slice(0, 32)}`;
}

interface Candidate {
  fingerprint: string;
  format: TokenFormat;
  checksumValid: boolean;
  redacted: string;
}

type RefusalReason = "headers" | "key-identifier" | "empty" | "unknown-key" | "signature" | "json" | "shape";

export async function secretScanningRoutes(
  app: FastifyInstance,
  options: SecretScanningRouteOptions,
): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/json",
    { parseAs: "buffer", bodyLimit: MAX_BODY },
    (_req, body, done) => done(null, body),
  );

  // Refused before the handler runs: Fastify's body limit (413) and content-type check (415).
  app.addHook("onError", async (_request, _reply, error) => {
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 413) partnerAlertsRefused.inc({ reason: "too-large" });
    else if (status === 415) partnerAlertsRefused.inc({ reason: "content-type" });
  });

  app.post(SECRET_SCANNING_PATH, async (request, reply) => {
    const identifier = header(request.headers["github-public-key-identifier"]);
    const signature = header(request.headers["github-public-key-signature"]);
    const refuse = (code: number, reason: RefusalReason, message: string) => {
      partnerAlertsRefused.inc({ reason });
      request.log.warn(
        { keyIdentifier: identifier ?? null, reason: message },
        "secret-scanning alert refused",
      );
      return reply.code(code).send({ message });
    };
    const missing = [
      ["github-public-key-identifier", identifier],
      ["github-public-key-signature", signature],
    ]
      .filter(([, v]) => !v)
      .map(([k]) => k);
    if (missing.length > 0) return refuse(400, "headers", `required headers missing: ${missing.join(", ")}`);
    if (!KEY_IDENTIFIER.test(identifier!))
      return refuse(400, "key-identifier", "github-public-key-identifier is not a key identifier");
    const body = request.body as Buffer | undefined;
    if (!body || body.length === 0) return refuse(400, "empty", "the body is empty");

    let key: KeyObject | null;
    try {
      key = await options.keys.get(identifier!);
    } catch (error) {
      partnerAlertsRefused.inc({ reason: "keys-unavailable" });
      request.log.error({ err: error }, "secret-scanning alert not checked");
      return reply
        .code(503)
        .send({ message: "GitHub's signing keys are unavailable; send the alert again later" });
    }
    if (!key) return refuse(401, "unknown-key", "github-public-key-identifier names no key GitHub publishes");
    if (!verifies(body, key, signature!))
      return refuse(401, "signature", "github-public-key-signature does not match the body and GitHub's key");

    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      return refuse(400, "json", "the body is not valid JSON");
    }
    const parsed = alertSchema.safeParse(json);
    if (!parsed.success)
      return refuse(
        400,
        "shape",
        "the body is not an array of {token, type, url, source} (at most 10,000 entries)",
      );

    // Each token becomes its fingerprint here, and the parsed body is dropped: nothing below holds a token.
    const entries = parsed.data.map(({ token, type, url }) => {
      const fields = parseToken(token);
      const candidate: Candidate | null = fields
        ? {
            fingerprint: fingerprint(token),
            format: fields.format,
            checksumValid: fields.format === "azdo-pat" || fields.checksumValid,
            redacted: redact(token),
          }
        : null;
      return { tokenHash: candidate?.fingerprint ?? fingerprint(token), type, url, candidate };
    });

    const wanted = [...new Set(entries.flatMap((e) => (e.candidate ? [e.candidate.fingerprint] : [])))];
    let ours: Set<string>;
    try {
      ours = new Set((await options.store.findByFingerprints(wanted)).map((m) => m.fingerprint));
    } catch (error) {
      partnerAlertsRefused.inc({ reason: "store-unavailable" });
      request.log.error({ err: error }, "secret-scanning matches not looked up");
      return reply
        .code(503)
        .send({ message: "patrol cannot reach its store right now; send the alert again later" });
    }
    const receivedAt = Date.now();
    const reports = new Map<string, LeakReport>();
    for (const entry of entries) {
      const candidate = entry.candidate;
      if (!candidate || !ours.has(candidate.fingerprint)) continue;
      const correlationId = alertCorrelationId(entry.url);
      const id = `${correlationId}-${candidate.fingerprint}`;
      if (reports.has(id)) continue;
      reports.set(id, {
        ...candidate,
        source: "secret-scanning",
        locations: [alertLocation(entry.url)],
        correlationId,
        receivedAt,
      });
    }
    if (reports.size > 0) {
      try {
        await options.enqueueLeaks([...reports.values()]);
      } catch (error) {
        partnerAlertsRefused.inc({ reason: "queue-unavailable" });
        request.log.error({ err: error }, "secret-scanning matches not queued");
        return reply
          .code(503)
          .send({ message: "patrol cannot queue work right now; send the alert again later" });
      }
    }
    request.log.info(
      { keyIdentifier: identifier, entries: entries.length, matches: reports.size },
      "secret-scanning alert answered",
    );
    const answer: PartnerAnswer[] = entries.map((e) => ({
      token_hash: e.tokenHash,
      token_type: e.type,
      label: e.candidate && ours.has(e.candidate.fingerprint) ? "true_positive" : "false_positive",
    }));
    for (const a of answer) partnerMatches.inc({ label: a.label });
    return reply.code(200).send(answer);
  });
}
