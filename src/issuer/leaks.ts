/**
 * What the leak-response pipeline needs from the store: look fingerprints up, revoke as the system, record
 * the public discovery in the audit log, and keep one incident per leaked token with every place it was seen.
 */
import { z } from "zod";
import { appendAuditEvent, lockTenantAuditChain, quoted } from "./audit.js";
import { invalid, notFound, parseInput } from "./errors.js";
import {
  effectiveStatus,
  PAT_COLUMNS,
  type Pat,
  type PatFormat,
  type PatRow,
  type PatStatus,
  patFromRow,
  type StoreContext,
  SYSTEM_ACTOR,
  type UserStatus,
} from "./model.js";

const FINGERPRINT = /^[0-9a-f]{64}$/;

function checkFingerprint(value: string): string {
  const lower = value.toLowerCase();
  if (!FINGERPRINT.test(lower)) throw invalid("a fingerprint is the 64-character hex SHA-256 of a token");
  return lower;
}

export interface LeakedPatMatch {
  fingerprint: string;
  authorizationId: string;
  displayName: string;
  scope: string;
  format: PatFormat;
  allOrgs: boolean;
  /** Right now: an active PAT past validTo reads as expired. */
  status: PatStatus;
  validFrom: Date;
  validTo: Date;
  owner: { id: string; email: string; displayName: string; status: UserStatus };
  organization: { id: string; name: string };
  tenant: { id: string; name: string; autoRevokeLeakedPats: boolean };
  /** The owner is on the auto-revoke policy's allowlist. */
  autoRevokeExempt: boolean;
  /** The tenant's policy says revoke: the policy is on and the owner is not exempt. */
  shouldAutoRevoke: boolean;
}

interface MatchRow {
  fingerprint: string;
  authorization_id: string;
  display_name: string;
  scope: string;
  format: PatFormat;
  all_orgs: boolean;
  status: PatStatus;
  valid_from: Date;
  valid_to: Date;
  user_id: string;
  organization_id: string;
  tenant_id: string;
  owner_email: string;
  owner_name: string;
  owner_status: UserStatus;
  organization_name: string;
  tenant_name: string;
  auto_revoke_leaked_pats: boolean;
  auto_revoke_exempt: boolean;
}

/**
 * Looks up many fingerprints in one query; joining from the unnested list makes each one a probe of the unique
 * fingerprint index, whatever the table size. Unknown fingerprints are absent from the answer. Only the columns
 * the answer needs are read: at 1,000 rows a batch, decoding unused columns costs more than the lookups.
 */
export async function findByFingerprints(
  ctx: StoreContext,
  fingerprints: string[],
): Promise<LeakedPatMatch[]> {
  if (fingerprints.length === 0) return [];
  const unique = [...new Set(fingerprints.map(checkFingerprint))];
  const { rows } = await ctx.db.query<MatchRow>(
    `SELECT p.fingerprint, p.authorization_id, p.display_name, p.scope, p.format, p.all_orgs, p.status,
            p.valid_from, p.valid_to, p.user_id, p.organization_id, p.tenant_id,
            u.email AS owner_email, u.display_name AS owner_name, u.status AS owner_status,
            o.name AS organization_name, t.name AS tenant_name, t.auto_revoke_leaked_pats,
            EXISTS (
              SELECT 1 FROM policy_allowlist_entries a
              WHERE a.tenant_id = p.tenant_id AND a.policy = 'autoRevokeLeakedPats'
                AND (a.user_id = p.user_id
                     OR a.group_name IN (SELECT g.group_name FROM group_members g WHERE g.user_id = p.user_id))
            ) AS auto_revoke_exempt
     FROM unnest($1::text[]) AS f(fingerprint)
     JOIN pats p ON p.fingerprint = f.fingerprint
     JOIN users u ON u.id = p.user_id
     JOIN organizations o ON o.id = p.organization_id
     JOIN tenants t ON t.id = p.tenant_id`,
    [unique],
    { name: "patrol_find_by_fingerprints" },
  );
  const now = ctx.now();
  return rows.map((row) => ({
    fingerprint: row.fingerprint,
    authorizationId: row.authorization_id,
    displayName: row.display_name,
    scope: row.scope,
    format: row.format,
    allOrgs: row.all_orgs,
    status: effectiveStatus({ status: row.status, validTo: row.valid_to }, now),
    validFrom: row.valid_from,
    validTo: row.valid_to,
    owner: { id: row.user_id, email: row.owner_email, displayName: row.owner_name, status: row.owner_status },
    organization: { id: row.organization_id, name: row.organization_name },
    tenant: { id: row.tenant_id, name: row.tenant_name, autoRevokeLeakedPats: row.auto_revoke_leaked_pats },
    autoRevokeExempt: row.auto_revoke_exempt,
    shouldAutoRevoke: row.auto_revoke_leaked_pats && !row.auto_revoke_exempt,
  }));
}

export interface SystemRevokeResult {
  /** False when the PAT was already revoked or expired: nothing changed and no event was written. */
  revoked: boolean;
  pat: Pat;
}

const reasonSchema = z.string().trim().min(1, "a reason is required").max(512);

/**
 * Revokes a PAT as patrol (e.g. because it leaked) and writes Token.PatSystemRevokeEvent. Idempotent: only an
 * active PAT changes, under its row lock, so a repeated or concurrent call changes nothing and writes nothing.
 * It does not consult the auto-revoke policy; the caller decides (see `shouldAutoRevoke`).
 */
export async function systemRevoke(
  ctx: StoreContext,
  authorizationId: string,
  reason: string,
  correlationId: string | null,
): Promise<SystemRevokeResult> {
  const id = parseInput(z.uuid(), authorizationId, "authorizationId", "invalidAuthorizationId").toLowerCase();
  const why = parseInput(reasonSchema, reason, "reason");
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<PatRow & { organization_name: string; owner_name: string }>(
      `WITH revoked AS (
         UPDATE pats SET status = 'revoked', revoked_at = now(), revoke_reason = $2, revoked_by_kind = 'system',
           revoked_by_user_id = NULL, updated_at = now()
         WHERE authorization_id = $1 AND status = 'active'
         RETURNING *
       )
       SELECT r.*, o.name AS organization_name, u.display_name AS owner_name
       FROM revoked r JOIN organizations o ON o.id = r.organization_id JOIN users u ON u.id = r.user_id`,
      [id, why],
    );
    if (rows.length === 0) {
      const { rows: existing } = await tx.query<PatRow>(
        `SELECT ${PAT_COLUMNS} FROM pats WHERE authorization_id = $1`,
        [id],
      );
      if (!existing[0]) throw notFound(`no PAT with authorizationId ${id}`, "authorizationNotFound");
      return { revoked: false, pat: patFromRow(existing[0]) };
    }
    const row = rows[0];
    const pat = patFromRow(row);
    await appendAuditEvent(ctx, tx, {
      tenantId: pat.tenantId,
      organization: { id: pat.organizationId, name: row.organization_name },
      actor: SYSTEM_ACTOR,
      actionId: "Token.PatSystemRevokeEvent",
      details: `Personal access token ${quoted(pat.displayName)} of ${quoted(row.owner_name)} was revoked by the system: ${quoted(why)}`,
      data: {
        authorizationId: pat.authorizationId,
        displayName: pat.displayName,
        ownerId: pat.userId,
        ownerName: row.owner_name,
        reason: why,
      },
      correlationId,
    });
    ctx.logger.info({ authorizationId: id, correlationId }, "PAT revoked by the system");
    return { revoked: true, pat };
  });
}

export interface PublicDiscoveryInput {
  authorizationId: string;
  repositoryUrl: string;
  commit: string;
  path: string;
  line: number;
  correlationId?: string | null;
  /** How patrol learned of it: "push", "history", "secret-scanning". */
  source?: string | null;
  /** Where it was seen (a permalink, or GitHub's alert URL). */
  url?: string | null;
}

const discoverySchema = z.object({
  authorizationId: z.uuid(),
  repositoryUrl: z.string().min(1).max(2048),
  commit: z.string().min(1).max(128),
  path: z.string().min(1).max(4096),
  line: z.number().int().min(1),
  correlationId: z.string().max(256).nullable().optional(),
  source: z.string().min(1).max(64).nullable().optional(),
  url: z.string().max(4096).nullable().optional(),
});

/**
 * Writes Token.PatPublicDiscoveryEvent: "PAT {DisplayName} associated with user {OwnerName} was discovered in a
 * public repository", with the location. Once per PAT and location: a retried job writes nothing new.
 */
export async function recordPublicDiscovery(
  ctx: StoreContext,
  input: PublicDiscoveryInput,
): Promise<{ recorded: boolean }> {
  const parsed = parseInput(discoverySchema, input, "public discovery");
  const id = parsed.authorizationId.toLowerCase();
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<PatRow & { organization_name: string; owner_name: string }>(
      `SELECT p.*, o.name AS organization_name, u.display_name AS owner_name
       FROM pats p JOIN organizations o ON o.id = p.organization_id JOIN users u ON u.id = p.user_id
       WHERE p.authorization_id = $1`,
      [id],
    );
    if (!rows[0]) throw notFound(`no PAT with authorizationId ${id}`, "authorizationNotFound");
    const row = rows[0];
    const pat = patFromRow(row);
    const location = {
      repositoryUrl: parsed.repositoryUrl,
      commit: parsed.commit,
      path: parsed.path,
      line: parsed.line,
    };
    await lockTenantAuditChain(tx, pat.tenantId);
    const { rows: earlier } = await tx.query(
      `SELECT 1 FROM audit_events
       WHERE action_id = 'Token.PatPublicDiscoveryEvent' AND data ->> 'authorizationId' = $1 AND data @> $2::jsonb
       LIMIT 1`,
      [id, JSON.stringify(location)],
    );
    if (earlier.length > 0) return { recorded: false };
    await appendAuditEvent(ctx, tx, {
      tenantId: pat.tenantId,
      organization: { id: pat.organizationId, name: row.organization_name },
      actor: SYSTEM_ACTOR,
      actionId: "Token.PatPublicDiscoveryEvent",
      details: `PAT ${quoted(pat.displayName)} associated with user ${quoted(row.owner_name)} was discovered in a public repository`,
      data: {
        authorizationId: pat.authorizationId,
        displayName: pat.displayName,
        ownerId: pat.userId,
        ownerName: row.owner_name,
        ...location,
        ...(parsed.source ? { source: parsed.source } : {}),
        ...(parsed.url ? { url: parsed.url } : {}),
      },
      correlationId: parsed.correlationId ?? null,
    });
    return { recorded: true };
  });
}

export type IncidentAction =
  | "pending"
  | "revoked"
  | "notRevokedPolicyOff"
  | "notRevokedExempt"
  | "alreadyInactive"
  | "notFound";

export interface LeakLocation {
  repository: string;
  commit: string;
  path: string;
  line: number;
  url: string | null;
  /** Where the finding came from, e.g. "push", "history", "secret-scanning". */
  source: string;
  seenAt: Date;
}

export interface LeakIncident {
  id: string;
  fingerprint: string;
  format: PatFormat;
  authorizationId: string | null;
  tenantId: string | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
  action: IncidentAction;
  actionAt: Date | null;
  mailedAt: Date | null;
  /** First 4 and last 4 characters, for people; null for incidents recorded before it was kept. */
  redacted: string | null;
  mail: { attempts: number; lastError: string | null; lastAttemptAt: Date | null };
  locations: LeakLocation[];
}

const locationSchema = z.object({
  repository: z.string().min(1).max(2048),
  commit: z.string().min(1).max(128),
  path: z.string().min(1).max(4096),
  line: z.number().int().min(1),
  url: z.string().max(4096).nullable().optional(),
  source: z.string().min(1).max(64),
  seenAt: z.date().optional(),
});

export interface RecordIncidentInput {
  fingerprint: string;
  format: PatFormat;
  /** Set when the fingerprint is one of ours (from findByFingerprints). */
  authorizationId?: string | null;
  tenantId?: string | null;
  /** The redacted form (`Ab3x…1xwm`), kept for the incident's people-facing views. */
  redacted?: string | null;
  location: z.input<typeof locationSchema>;
}

const REDACTED = /^[A-Za-z0-9+/=]{4}…[A-Za-z0-9+/=]{4}$/;

/**
 * Records that a token was seen at a location: the first sighting creates the incident, later ones add
 * locations. Says whether the incident and the location are new, so the caller acts and mails once.
 */
export async function recordIncident(
  ctx: StoreContext,
  input: RecordIncidentInput,
): Promise<{ incident: LeakIncident; newIncident: boolean; newLocation: boolean }> {
  const fp = checkFingerprint(input.fingerprint);
  if (input.format !== "azdo-pat" && input.format !== "azdo-pat-legacy")
    throw invalid("unknown token format");
  const location = parseInput(locationSchema, input.location, "location");
  if (input.redacted != null && !REDACTED.test(input.redacted))
    throw invalid("redacted must be the first 4 characters, an ellipsis and the last 4");
  const seenAt = location.seenAt ?? new Date();
  const { newIncident, newLocation } = await ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string; inserted: boolean }>(
      `INSERT INTO leak_incidents
         (fingerprint, format, authorization_id, tenant_id, first_seen_at, last_seen_at, redacted)
       VALUES ($1, $2, $3, $4, $5, $5, $6)
       ON CONFLICT (fingerprint) DO UPDATE SET
         redacted = coalesce(leak_incidents.redacted, excluded.redacted),
         last_seen_at = greatest(leak_incidents.last_seen_at, excluded.last_seen_at),
         first_seen_at = least(leak_incidents.first_seen_at, excluded.first_seen_at),
         authorization_id = coalesce(leak_incidents.authorization_id, excluded.authorization_id),
         tenant_id = coalesce(leak_incidents.tenant_id, excluded.tenant_id)
       RETURNING id, (xmax = 0) AS inserted`,
      [
        fp,
        input.format,
        input.authorizationId ?? null,
        input.tenantId ?? null,
        seenAt,
        input.redacted ?? null,
      ],
    );
    const { rows: added } = await tx.query(
      `INSERT INTO leak_incident_locations (incident_id, repository, commit_sha, path, line, url, source, seen_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING 1`,
      [
        rows[0].id,
        location.repository,
        location.commit,
        location.path,
        location.line,
        location.url ?? null,
        location.source,
        seenAt,
      ],
    );
    return { newIncident: rows[0].inserted, newLocation: added.length > 0 };
  });
  return { incident: (await getIncident(ctx, fp)) as LeakIncident, newIncident, newLocation };
}

export async function setIncidentAction(
  ctx: StoreContext,
  fingerprintHex: string,
  action: IncidentAction,
): Promise<LeakIncident> {
  const fp = checkFingerprint(fingerprintHex);
  const { rows } = await ctx.db.query(
    "UPDATE leak_incidents SET action = $2, action_at = now() WHERE fingerprint = $1 RETURNING id",
    [fp, action],
  );
  if (rows.length === 0) throw notFound("no incident for that fingerprint");
  return (await getIncident(ctx, fp)) as LeakIncident;
}

/**
 * Records that the owner's notice went out, in one statement: the successful attempt and `mailed_at` together,
 * so a crash or a lost connection cannot leave one without the other. Idempotent: `firstTime` is false (and
 * nothing changes) when the incident was already marked mailed.
 */
export async function recordMailSent(
  ctx: StoreContext,
  fingerprintHex: string,
  at: Date = new Date(),
): Promise<{ firstTime: boolean }> {
  const fp = checkFingerprint(fingerprintHex);
  const { rows } = await ctx.db.query(
    `UPDATE leak_incidents SET mailed_at = $2, mail_attempts = mail_attempts + 1, mail_last_attempt_at = $2,
       mail_last_error = NULL
     WHERE fingerprint = $1 AND mailed_at IS NULL RETURNING id`,
    [fp, at],
  );
  if (rows.length > 0) return { firstTime: true };
  const { rows: exists } = await ctx.db.query("SELECT 1 FROM leak_incidents WHERE fingerprint = $1", [fp]);
  if (exists.length === 0) throw notFound("no incident for that fingerprint");
  return { firstTime: false };
}

interface IncidentRow {
  id: string;
  fingerprint: string;
  format: PatFormat;
  authorization_id: string | null;
  tenant_id: string | null;
  first_seen_at: Date;
  last_seen_at: Date;
  action: IncidentAction;
  action_at: Date | null;
  mailed_at: Date | null;
  redacted: string | null;
  mail_attempts: number;
  mail_last_error: string | null;
  mail_last_attempt_at: Date | null;
}

interface LocationRow {
  incident_id: string;
  repository: string;
  commit_sha: string;
  path: string;
  line: number;
  url: string | null;
  source: string;
  seen_at: Date;
}

export async function getIncident(ctx: StoreContext, fingerprintHex: string): Promise<LeakIncident | null> {
  const fp = checkFingerprint(fingerprintHex);
  const { rows } = await ctx.db.query<IncidentRow>("SELECT * FROM leak_incidents WHERE fingerprint = $1", [
    fp,
  ]);
  return rows[0] ? (await withLocations(ctx, rows))[0] : null;
}

export async function getIncidentById(ctx: StoreContext, id: string): Promise<LeakIncident | null> {
  if (!z.uuid().safeParse(id).success) return null;
  const { rows } = await ctx.db.query<IncidentRow>("SELECT * FROM leak_incidents WHERE id = $1", [id]);
  return rows[0] ? (await withLocations(ctx, rows))[0] : null;
}

/** At most this many locations are returned with each incident in a list (the incident itself has them all). */
const LIST_LOCATIONS = 100;

async function withLocations(
  ctx: StoreContext,
  rows: IncidentRow[],
  perIncident?: number,
): Promise<LeakIncident[]> {
  if (rows.length === 0) return [];
  const { rows: locations } = await ctx.db.query<LocationRow>(
    `SELECT * FROM (
       SELECT l.*, row_number() OVER (PARTITION BY incident_id ORDER BY seen_at, repository, path, line) AS n
       FROM leak_incident_locations l WHERE incident_id = ANY($1::uuid[])
     ) ranked WHERE $2::int IS NULL OR n <= $2::int
     ORDER BY seen_at, repository, path, line`,
    [rows.map((r) => r.id), perIncident ?? null],
  );
  const byIncident = new Map<string, LocationRow[]>();
  for (const l of locations) {
    const list = byIncident.get(l.incident_id) ?? [];
    list.push(l);
    byIncident.set(l.incident_id, list);
  }
  return rows.map((row) => incidentFromRow(row, byIncident.get(row.id) ?? []));
}

export interface IncidentQuery {
  tenantId?: string;
  action?: IncidentAction;
  /** First seen at or after. */
  since?: Date;
  /** First seen before. */
  until?: Date;
  top?: number;
  /** Opaque: from the previous page. */
  continuationToken?: string;
}

export interface IncidentPage {
  incidents: LeakIncident[];
  continuationToken: string | null;
}

const continuationSchema = z.object({ t: z.iso.datetime(), id: z.uuid() });

/** Incidents newest first, keyset-paged; each carries its first 100 locations. */
export async function listIncidents(ctx: StoreContext, query: IncidentQuery): Promise<IncidentPage> {
  const top = query.top ?? 50;
  if (!Number.isInteger(top) || top < 1 || top > 500)
    throw invalid("$top must be a whole number from 1 to 500");
  let after: { t: string; id: string } | null = null;
  if (query.continuationToken) {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(query.continuationToken, "base64url").toString("utf8"));
    } catch {
      decoded = null;
    }
    const parsed = continuationSchema.safeParse(decoded);
    if (!parsed.success) throw invalid("continuationToken is not one this server gave out");
    after = parsed.data;
  }
  const { rows } = await ctx.db.query<IncidentRow>(
    `SELECT * FROM leak_incidents
     WHERE ($1::uuid IS NULL OR tenant_id = $1::uuid)
       AND ($2::text IS NULL OR action = $2::text)
       AND ($3::timestamptz IS NULL OR first_seen_at >= $3::timestamptz)
       AND ($4::timestamptz IS NULL OR first_seen_at < $4::timestamptz)
       AND ($5::timestamptz IS NULL OR (first_seen_at, id) < ($5::timestamptz, $6::uuid))
     ORDER BY first_seen_at DESC, id DESC
     LIMIT $7`,
    [
      query.tenantId ?? null,
      query.action ?? null,
      query.since ?? null,
      query.until ?? null,
      after?.t ?? null,
      after?.id ?? null,
      top + 1,
    ],
  );
  const page = rows.slice(0, top);
  const last = page[page.length - 1];
  return {
    incidents: await withLocations(ctx, page, LIST_LOCATIONS),
    continuationToken:
      rows.length > top && last
        ? Buffer.from(JSON.stringify({ t: last.first_seen_at.toISOString(), id: last.id })).toString(
            "base64url",
          )
        : null,
  };
}

/** Records one delivery attempt of the owner's notice: the error when it failed (never a token: there is none). */
export async function recordMailAttempt(
  ctx: StoreContext,
  fingerprintHex: string,
  error: string | null,
): Promise<void> {
  const fp = checkFingerprint(fingerprintHex);
  await ctx.db.query(
    `UPDATE leak_incidents SET mail_attempts = mail_attempts + 1, mail_last_attempt_at = now(),
       mail_last_error = $2 WHERE fingerprint = $1`,
    [fp, error === null ? null : error.slice(0, 1000)],
  );
}

function incidentFromRow(row: IncidentRow, locations: LocationRow[]): LeakIncident {
  return {
    id: row.id,
    fingerprint: row.fingerprint,
    format: row.format,
    authorizationId: row.authorization_id,
    tenantId: row.tenant_id,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    action: row.action,
    actionAt: row.action_at,
    mailedAt: row.mailed_at,
    redacted: row.redacted,
    mail: {
      attempts: row.mail_attempts,
      lastError: row.mail_last_error,
      lastAttemptAt: row.mail_last_attempt_at,
    },
    locations: locations.map((l) => ({
      repository: l.repository,
      commit: l.commit_sha,
      path: l.path,
      line: l.line,
      url: l.url,
      source: l.source,
      seenAt: l.seen_at,
    })),
  };
}
