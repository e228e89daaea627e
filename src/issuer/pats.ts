/**
 * The PAT lifecycle: create (the token is returned once and only its SHA-256 is stored), list, get, update
 * (rename, rescope, renew, regenerate), revoke, and the expiry sweep. Every change writes its audit event in
 * the same transaction.
 */
import { z } from "zod";
import { fingerprint, isWellFormed, mintAzdo } from "../tokens/index.js";
import { appendAuditEvent, quoted } from "./audit.js";
import type { Queryable } from "./database.js";
import { requireDateTime } from "./dates.js";
import {
  findUserByEmail,
  organizationById,
  requireOrganization,
  requireTenant,
  userById,
} from "./directory.js";
import { forbidden, invalid, notFound, parseInput } from "./errors.js";
import {
  type Actor,
  effectiveStatus,
  type Organization,
  PAT_COLUMNS,
  type Pat,
  type PatRow,
  patFromRow,
  type StoreContext,
  SYSTEM_ACTOR,
  type User,
} from "./model.js";
import { checkPatPolicies, loadExemptions } from "./policies.js";
import { normalizeScope } from "./scopes.js";
import { hasUnsafeText, plainText, UNSAFE_TEXT_MESSAGE } from "./text.js";

export const MAX_DISPLAY_NAME_LENGTH = 256;
/** Azure DevOps caps a PAT's lifetime at one year. */
export const MAX_PAT_LIFESPAN_DAYS = 366;
export const DEFAULT_PAT_LIFESPAN_DAYS = 30;
export const MAX_PAGE_SIZE = 1000;
/** One text for a bad page size, whichever layer finds it. */
export const TOP_RANGE_MESSAGE = `$top must be a whole number from 1 to ${MAX_PAGE_SIZE}`;
const DAY_MS = 86_400_000;

/** Token-shaped runs of characters, checked so that nobody stores a live token as a display name. */
const TOKEN_CANDIDATE = /[A-Za-z0-9]{52,88}/g;

export const patDisplayNameSchema = z
  .string()
  .trim()
  .min(1, "displayName must not be empty")
  .max(MAX_DISPLAY_NAME_LENGTH, `displayName must be at most ${MAX_DISPLAY_NAME_LENGTH} characters`)
  .refine((name) => !hasUnsafeText(name), `displayName ${UNSAFE_TEXT_MESSAGE}`)
  .refine(
    (name) => !(name.match(TOKEN_CANDIDATE) ?? []).some((candidate) => isWellFormed(candidate)),
    "displayName must not contain a token",
  );

export type PatListFilter = "active" | "revoked" | "expired" | "all";
export type PatSort = "displayDate" | "displayName" | "status";

export interface IssuedPat {
  pat: Pat;
  /** The secret: returned here once, never stored, never logged. */
  token: string;
}

interface AccessContext {
  actor: Actor;
  correlationId?: string | null;
  ipAddress?: string | null;
}

export interface CreatePatInput extends AccessContext {
  /** The organization the PAT is created in (the `{organization}` of the URL). */
  organization: string;
  /** Owner's email: required when an admin creates a PAT, otherwise the calling user. */
  owner?: string;
  displayName: unknown;
  scope: unknown;
  /** Defaults to 30 days, or less when the tenant's lifespan policy is shorter. */
  validTo?: Date | string | null;
  allOrgs?: boolean;
}

export interface UpdatePatInput extends AccessContext {
  organization: string;
  authorizationId: string;
  displayName?: unknown;
  scope?: unknown;
  validTo?: Date | string | null;
  allOrgs?: boolean;
  /** Mint a new secret for the same authorization id; the old secret stops working at once. */
  regenerate?: boolean;
}

const uuidSchema = z.uuid();

function checkAuthorizationId(id: string): string {
  return parseInput(uuidSchema, id, "authorizationId", "invalidAuthorizationId").toLowerCase();
}

function parseDisplayName(value: unknown): string {
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) {
    throw invalid("displayName is required", "displayNameRequired");
  }
  return parseInput(patDisplayNameSchema, value, "displayName", "invalidDisplayName");
}

function parseScope(value: unknown): string {
  if (typeof value !== "string")
    throw invalid("scope must be a string of space-separated scopes", "invalidScope");
  return normalizeScope(value);
}

function parseValidTo(value: Date | string, now: Date): Date {
  const date = requireDateTime(value, "validTo", "invalidValidTo");
  if (date.getTime() <= now.getTime()) throw invalid("validTo must be in the future", "invalidValidTo");
  if (date.getTime() > now.getTime() + MAX_PAT_LIFESPAN_DAYS * DAY_MS) {
    throw invalid(`validTo must be at most ${MAX_PAT_LIFESPAN_DAYS} days from now`, "invalidValidTo");
  }
  return date;
}

/** The user a call acts for, checked against the organization's tenant. */
async function resolveOwner(
  db: Queryable,
  organization: Organization,
  input: AccessContext & { owner?: string },
) {
  const { actor } = input;
  if (actor.kind === "system") throw forbidden("the system does not own PATs", "accessDenied");
  if (actor.kind === "user") {
    if (actor.user.tenantId !== organization.tenantId) {
      throw forbidden("you are not a member of this organization's tenant", "accessDenied");
    }
    if (input.owner === undefined || input.owner.toLowerCase() === actor.user.email.toLowerCase())
      return actor.user;
    if (actor.user.role !== "admin")
      throw forbidden("only administrators act for other users", "accessDenied");
  }
  if (input.owner === undefined)
    throw invalid(
      "name the user the PAT is for (?user=EMAIL over HTTP, --user on the command line)",
      "invalidUserId",
    );
  const owner = await findUserByEmail(db, organization.tenantId, input.owner);
  if (!owner)
    throw notFound(
      `user ${JSON.stringify(input.owner.slice(0, 254))} does not exist in the tenant`,
      "invalidUserId",
    );
  return owner;
}

function isAdminOf(actor: Actor, tenantId: string): boolean {
  return (
    actor.kind === "admin" ||
    (actor.kind === "user" && actor.user.role === "admin" && actor.user.tenantId === tenantId)
  );
}

function patAuditData(pat: Pat, owner: User): Record<string, string | boolean> {
  return {
    authorizationId: pat.authorizationId,
    displayName: pat.displayName,
    ownerId: owner.id,
    ownerName: owner.displayName,
    ownerEmail: owner.email,
    scope: pat.scope,
    allOrgs: pat.allOrgs,
    validTo: pat.validTo.toISOString(),
  };
}

export async function createPat(ctx: StoreContext, input: CreatePatInput): Promise<IssuedPat> {
  const now = ctx.now();
  const organization = await requireOrganization(ctx.db, input.organization);
  const owner = await resolveOwner(ctx.db, organization, input);
  const displayName = parseDisplayName(input.displayName);
  const scope = parseScope(input.scope);
  const allOrgs = input.allOrgs ?? false;
  const givenValidTo = input.validTo == null ? null : parseValidTo(input.validTo, now);
  if (owner.status !== "active") throw forbidden("the user is disabled", "invalidUserId");
  const tenant = await requireTenant(ctx.db, organization.tenantId);
  const exemptions = await loadExemptions(ctx.db, owner.id, tenant.id, organization.id);
  let validTo = givenValidTo;
  if (validTo === null) {
    const maxDays = exemptions.has("maxPatLifespan") ? null : tenant.policies.maxPatLifespanDays;
    validTo = new Date(now.getTime() + Math.min(DEFAULT_PAT_LIFESPAN_DAYS, maxDays ?? Infinity) * DAY_MS);
  }
  const violation = checkPatPolicies({
    tenant: tenant.policies,
    organization: organization.policies,
    exemptions,
    scope,
    allOrgs,
    validTo,
    now,
  });
  if (violation) throw violation;

  const token = mintAzdo({ date: now });
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<PatRow>(
      `INSERT INTO pats (tenant_id, user_id, organization_id, all_orgs, display_name, scope, fingerprint, format,
         valid_from, valid_to)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'azdo-pat', $8, $9) RETURNING ${PAT_COLUMNS}`,
      [tenant.id, owner.id, organization.id, allOrgs, displayName, scope, fingerprint(token), now, validTo],
    );
    const pat = patFromRow(rows[0]);
    await appendAuditEvent(ctx, tx, {
      tenantId: tenant.id,
      organization: { id: organization.id, name: organization.name },
      actor: input.actor,
      actionId: "Token.PatCreateEvent",
      details: `Personal access token ${quoted(pat.displayName)} was created for ${quoted(owner.displayName)}`,
      data: patAuditData(pat, owner),
      correlationId: input.correlationId,
      ipAddress: input.ipAddress,
    });
    ctx.logger.info({ authorizationId: pat.authorizationId, userId: owner.id }, "PAT created");
    return { pat, token };
  });
}

/** Loads a PAT the caller may act on through this organization; anything else is "not found". */
async function loadVisiblePat(
  db: Queryable,
  authorizationId: string,
  organization: Organization,
  actor: Actor,
  forUpdate: boolean,
): Promise<Pat> {
  const { rows } = await db.query<PatRow>(
    `SELECT ${PAT_COLUMNS} FROM pats WHERE authorization_id = $1 ${forUpdate ? "FOR UPDATE" : ""}`,
    [authorizationId],
  );
  const pat = rows[0] ? patFromRow(rows[0]) : null;
  const usableHere =
    pat !== null &&
    pat.tenantId === organization.tenantId &&
    (pat.organizationId === organization.id || pat.allOrgs);
  const mayAct =
    pat !== null &&
    (isAdminOf(actor, pat.tenantId) || (actor.kind === "user" && actor.user.id === pat.userId));
  if (!pat || !usableHere || !mayAct) {
    throw notFound(
      `no PAT with authorizationId ${authorizationId} in this organization`,
      "authorizationNotFound",
    );
  }
  return pat;
}

export async function getPat(
  ctx: StoreContext,
  input: { organization: string; authorizationId: string; actor: Actor },
): Promise<Pat> {
  const authorizationId = checkAuthorizationId(input.authorizationId);
  const organization = await requireOrganization(ctx.db, input.organization);
  return loadVisiblePat(ctx.db, authorizationId, organization, input.actor, false);
}

export interface ListPatsInput {
  organization: string;
  actor: Actor;
  /** Another user's email (administrators only). Admin-key callers without it see every PAT in the org. */
  owner?: string;
  filter?: PatListFilter;
  sortBy?: PatSort;
  ascending?: boolean;
  top?: number;
  continuationToken?: string;
}

export interface PatPage {
  pats: Pat[];
  continuationToken: string | null;
}

interface ListCursor {
  f: PatListFilter;
  s: PatSort;
  a: boolean;
  o: string | null;
  k: string;
  id: string;
}

const SORT_KEYS: Record<PatSort, string> = {
  displayDate: "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
  displayName: "lower(display_name)",
  status: "status",
};

export async function listPats(ctx: StoreContext, input: ListPatsInput): Promise<PatPage> {
  const filter = input.filter ?? "active";
  const sortBy = input.sortBy ?? "displayDate";
  const ascending = input.ascending ?? true;
  const top = input.top ?? 100;
  if (!Number.isInteger(top) || top < 1 || top > MAX_PAGE_SIZE) throw invalid(TOP_RANGE_MESSAGE);
  const organization = await requireOrganization(ctx.db, input.organization);
  const { actor } = input;
  let ownerId: string | null = null;
  if (input.owner !== undefined) {
    const owner = await findUserByEmail(ctx.db, organization.tenantId, input.owner);
    if (!isAdminOf(actor, organization.tenantId) && !(actor.kind === "user" && owner?.id === actor.user.id)) {
      throw forbidden("only administrators list other users' PATs", "accessDenied");
    }
    if (!owner)
      throw notFound(`user ${JSON.stringify(input.owner.slice(0, 254))} does not exist in the tenant`);
    ownerId = owner.id;
  } else if (actor.kind === "user") {
    if (actor.user.tenantId !== organization.tenantId) {
      throw forbidden("you are not a member of this organization's tenant", "accessDenied");
    }
    ownerId = actor.user.id;
  } else if (actor.kind !== "admin") {
    throw forbidden("not allowed", "accessDenied");
  }
  let cursor: ListCursor | null = null;
  if (input.continuationToken) {
    cursor = decodeListCursor(input.continuationToken);
    if (cursor.f !== filter || cursor.s !== sortBy || cursor.a !== ascending || cursor.o !== ownerId) {
      throw invalid("continuationToken belongs to a list with different filter, sort or user options");
    }
  }
  const now = ctx.now();
  const statusCondition: Record<PatListFilter, string> = {
    active: "status = 'active' AND valid_to > $3::timestamptz",
    // $3 appears in every variant so that its type is always known.
    revoked: "status = 'revoked' AND $3::timestamptz IS NOT NULL",
    expired: "(status = 'expired' OR (status = 'active' AND valid_to <= $3::timestamptz))",
    all: "$3::timestamptz IS NOT NULL",
  };
  const key = SORT_KEYS[sortBy];
  const direction = ascending ? "ASC" : "DESC";
  const { rows } = await ctx.db.query<PatRow & { sort_key: string }>(
    `SELECT ${PAT_COLUMNS}, ${key} AS sort_key FROM pats
      WHERE tenant_id = $1 AND (organization_id = $2 OR all_orgs)
        AND ($4::uuid IS NULL OR user_id = $4)
        AND ${statusCondition[filter]}
        AND ($5::text IS NULL OR (${key}, authorization_id) ${ascending ? ">" : "<"} ($5::text, $6::uuid))
      ORDER BY ${key} ${direction}, authorization_id ${direction}
      LIMIT $7`,
    [organization.tenantId, organization.id, now, ownerId, cursor?.k ?? null, cursor?.id ?? null, top + 1],
  );
  const page = rows.slice(0, top);
  const last = page[page.length - 1];
  const next: ListCursor | null =
    rows.length > top
      ? { f: filter, s: sortBy, a: ascending, o: ownerId, k: last.sort_key, id: last.authorization_id }
      : null;
  return {
    pats: page.map(patFromRow),
    continuationToken: next ? Buffer.from(JSON.stringify(next)).toString("base64url") : null,
  };
}

function decodeListCursor(token: string): ListCursor {
  try {
    const value = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as ListCursor;
    if (typeof value.k === "string" && uuidSchema.safeParse(value.id).success) return value;
  } catch {
    // fall through
  }
  throw invalid("continuationToken is not one this service issued");
}

export async function updatePat(
  ctx: StoreContext,
  input: UpdatePatInput,
): Promise<{ pat: Pat; token: string | null }> {
  const now = ctx.now();
  const authorizationId = checkAuthorizationId(input.authorizationId);
  const organization = await requireOrganization(ctx.db, input.organization);
  const displayName = input.displayName === undefined ? undefined : parseDisplayName(input.displayName);
  const scope = input.scope === undefined ? undefined : parseScope(input.scope);
  const validTo = input.validTo == null ? undefined : parseValidTo(input.validTo, now);
  const tenant = await requireTenant(ctx.db, organization.tenantId);

  return ctx.db.transaction(async (tx) => {
    const current = await loadVisiblePat(tx, authorizationId, organization, input.actor, true);
    const status = effectiveStatus(current, now);
    if (status === "revoked") {
      throw invalid("this PAT is revoked; only active PATs can be updated", "invalidToken");
    }
    if (status === "expired") {
      throw invalid(
        "this PAT has expired and cannot be extended; create a new one",
        "expiredPatCannotBeExtended",
      );
    }
    const owner = (await userById(tx, current.userId)) as User;
    if (owner.status !== "active") throw forbidden("the PAT's owner is disabled", "invalidUserId");
    const next = {
      displayName: displayName ?? current.displayName,
      scope: scope ?? current.scope,
      validTo: validTo ?? current.validTo,
      allOrgs: input.allOrgs ?? current.allOrgs,
      // A global PAT narrowed to one organization is narrowed to the one named in the request.
      organizationId: input.allOrgs === false && current.allOrgs ? organization.id : current.organizationId,
    };
    const changed: string[] = [];
    if (next.displayName !== current.displayName) changed.push("displayName");
    if (next.scope !== current.scope) changed.push("scope");
    if (next.validTo.getTime() !== current.validTo.getTime()) changed.push("validTo");
    if (next.allOrgs !== current.allOrgs) changed.push("allOrgs");
    if (input.regenerate) {
      // Azure DevOps lets administrators revoke others' PATs, never read them: a new secret is the owner's alone.
      if (!(input.actor.kind === "user" && input.actor.user.id === current.userId)) {
        throw forbidden(
          "only the PAT's owner can regenerate it; administrators can revoke it",
          "accessDenied",
        );
      }
      changed.push("token");
    }
    if (changed.length === 0) return { pat: current, token: null };

    const exemptions = await loadExemptions(tx, owner.id, tenant.id, organization.id);
    const violation = checkPatPolicies({
      tenant: tenant.policies,
      organization: organization.policies,
      exemptions,
      scope: next.scope,
      allOrgs: next.allOrgs,
      validTo: next.validTo,
      now,
    });
    if (violation) throw violation;

    const token = input.regenerate ? mintAzdo({ date: now }) : null;
    const { rows } = await tx.query<PatRow>(
      `UPDATE pats SET display_name = $2, scope = $3, valid_to = $4, all_orgs = $5, organization_id = $6,
         fingerprint = coalesce($7, fingerprint), updated_at = now()
       WHERE authorization_id = $1 RETURNING ${PAT_COLUMNS}`,
      [
        authorizationId,
        next.displayName,
        next.scope,
        next.validTo,
        next.allOrgs,
        next.organizationId,
        token === null ? null : fingerprint(token),
      ],
    );
    const pat = patFromRow(rows[0]);
    await appendAuditEvent(ctx, tx, {
      tenantId: pat.tenantId,
      organization: { id: organization.id, name: organization.name },
      actor: input.actor,
      actionId: "Token.PatUpdateEvent",
      details: `Personal access token ${quoted(pat.displayName)} of ${quoted(owner.displayName)} was updated (${changed.join(", ")})`,
      data: { ...patAuditData(pat, owner), changed: changed.join(", "), regenerated: token !== null },
      correlationId: input.correlationId,
      ipAddress: input.ipAddress,
    });
    ctx.logger.info({ authorizationId, changed }, "PAT updated");
    return { pat, token };
  });
}

/** A revoked PAT, and whether it was already revoked before this call (then nothing changed). */
export interface RevokedPat extends Pat {
  alreadyRevoked: boolean;
}

/** Revokes a PAT on a user's or an administrator's request. Revoking a revoked PAT changes nothing. */
export async function revokePat(
  ctx: StoreContext,
  input: AccessContext & { organization: string; authorizationId: string; reason?: string },
): Promise<RevokedPat> {
  const authorizationId = checkAuthorizationId(input.authorizationId);
  const organization = await requireOrganization(ctx.db, input.organization);
  return revokeVisiblePat(ctx, authorizationId, organization, input);
}

/** Revokes any PAT by authorization id (administrators: the CLI and the admin API). */
export async function adminRevokePat(
  ctx: StoreContext,
  input: AccessContext & { authorizationId: string; reason?: string },
): Promise<RevokedPat> {
  const authorizationId = checkAuthorizationId(input.authorizationId);
  const { rows } = await ctx.db.query<{ organization_id: string }>(
    "SELECT organization_id FROM pats WHERE authorization_id = $1",
    [authorizationId],
  );
  if (!rows[0]) throw notFound(`no PAT with authorizationId ${authorizationId}`, "authorizationNotFound");
  const organization = await organizationById(ctx.db, rows[0].organization_id);
  if (!isAdminOf(input.actor, organization.tenantId)) {
    throw notFound(`no PAT with authorizationId ${authorizationId}`, "authorizationNotFound");
  }
  return revokeVisiblePat(ctx, authorizationId, organization, input);
}

async function revokeVisiblePat(
  ctx: StoreContext,
  authorizationId: string,
  organization: Organization,
  input: AccessContext & { reason?: string },
): Promise<RevokedPat> {
  const reason = input.reason === undefined ? null : parseInput(plainText(512), input.reason, "reason");
  return ctx.db.transaction(async (tx) => {
    const current = await loadVisiblePat(tx, authorizationId, organization, input.actor, true);
    if (current.status === "revoked") return { ...current, alreadyRevoked: true };
    const byOwner = input.actor.kind === "user" && input.actor.user.id === current.userId;
    const { rows } = await tx.query<PatRow>(
      `UPDATE pats SET status = 'revoked', revoked_at = now(), revoke_reason = $2, revoked_by_kind = $3,
         revoked_by_user_id = $4, updated_at = now()
       WHERE authorization_id = $1 RETURNING ${PAT_COLUMNS}`,
      [
        authorizationId,
        reason ?? (byOwner ? "revoked by its owner" : "revoked by an administrator"),
        byOwner ? "user" : "admin",
        input.actor.kind === "user" ? input.actor.user.id : null,
      ],
    );
    const pat = patFromRow(rows[0]);
    const owner = (await userById(tx, pat.userId)) as User;
    await appendAuditEvent(ctx, tx, {
      tenantId: pat.tenantId,
      organization: { id: organization.id, name: organization.name },
      actor: input.actor,
      actionId: "Token.PatRevokeEvent",
      details: `Personal access token ${quoted(pat.displayName)} of ${quoted(owner.displayName)} was revoked`,
      data: { ...patAuditData(pat, owner), reason: pat.revokeReason },
      correlationId: input.correlationId,
      ipAddress: input.ipAddress,
    });
    ctx.logger.info({ authorizationId, by: byOwner ? "owner" : "admin" }, "PAT revoked");
    return { ...pat, alreadyRevoked: false };
  });
}

/**
 * Marks active PATs past their validTo as expired and records one Token.PatExpiredEvent for each. Safe to run
 * from several processes at once: rows are claimed with SKIP LOCKED and each changes status exactly once.
 * Authentication does not wait for this sweep; it checks validTo itself.
 */
export async function expireDuePats(
  ctx: StoreContext,
  options: { batchSize?: number } = {},
): Promise<{ expired: number }> {
  const batchSize = options.batchSize ?? 500;
  let expired = 0;
  for (;;) {
    const now = ctx.now();
    const count = await ctx.db.transaction(async (tx) => {
      const { rows } = await tx.query<
        PatRow & { organization_name: string; owner_name: string; owner_email: string }
      >(
        `WITH due AS (
           SELECT authorization_id FROM pats WHERE status = 'active' AND valid_to <= $1
           ORDER BY valid_to LIMIT $2 FOR UPDATE SKIP LOCKED
         ), expired AS (
           UPDATE pats p SET status = 'expired', expired_at = $1, updated_at = now()
           FROM due WHERE p.authorization_id = due.authorization_id
           RETURNING p.*
         )
         SELECT e.*, o.name AS organization_name, u.display_name AS owner_name, u.email AS owner_email
         FROM expired e JOIN organizations o ON o.id = e.organization_id JOIN users u ON u.id = e.user_id
         ORDER BY e.tenant_id, e.valid_to`,
        [now, batchSize],
      );
      // Sorted by tenant so concurrent sweeps take the per-tenant audit locks in the same order.
      for (const row of rows) {
        const pat = patFromRow(row);
        await appendAuditEvent(ctx, tx, {
          tenantId: pat.tenantId,
          organization: { id: pat.organizationId, name: row.organization_name },
          actor: SYSTEM_ACTOR,
          actionId: "Token.PatExpiredEvent",
          details: `Personal access token ${quoted(pat.displayName)} of ${quoted(row.owner_name)} expired`,
          data: {
            authorizationId: pat.authorizationId,
            displayName: pat.displayName,
            ownerId: pat.userId,
            ownerName: row.owner_name,
            ownerEmail: row.owner_email,
            validTo: pat.validTo.toISOString(),
          },
        });
      }
      return rows.length;
    });
    expired += count;
    if (count < batchSize) break;
  }
  if (expired > 0) ctx.logger.info({ expired }, "expired PATs past their validTo");
  return { expired };
}
