/** The issuing store's records as the rest of patrol sees them, and the context every store module runs in. */
import type { Logger } from "pino";
import type { AuditKeys } from "./audit-keys.js";
import type { Database } from "./database.js";

export interface StoreContext {
  db: Database;
  logger: Logger;
  /** The clock for validity and expiry decisions (tests move it). Audit timestamps use the database clock. */
  now: () => Date;
  /** Defaults for tenants without their own OIDC settings. */
  oidcDefaults: OidcSettings;
  auditRetentionDays: number;
  /** Keys of the audit chain, anchors and checkpoints (derived from PATROL_AUDIT_KEY; never in the database). */
  auditKeys: AuditKeys;
  /** Where signed checkpoints of each tenant's chain head go; undefined: the log only. */
  auditCheckpointFile: string | undefined;
  /** The accepted age of a bearer JWT (by `iat`), and whether its JWKS may live on a private address. */
  oidcPolicy: { maxTokenAgeSeconds: number; jwksAllowPrivate: boolean; allowHttpLoopback: boolean };
}

export interface OidcSettings {
  issuer: string | undefined;
  audience: string | undefined;
  jwksUrl: string | undefined;
}

export interface TenantPolicies {
  /** Automatically revoke leaked PATs (on by default; off means the owner is still emailed). */
  autoRevokeLeakedPats: boolean;
  /** Restrict global (all-organizations) PAT creation. */
  restrictGlobalPats: boolean;
  /** Restrict full-scoped (`app_token`) PAT creation. */
  restrictFullScopePats: boolean;
  /** Maximum PAT lifespan in days; null means off. */
  maxPatLifespanDays: number | null;
}

export interface Tenant {
  id: string;
  name: string;
  /** The tenant's own OIDC settings; undefined fields fall back to the service configuration. */
  oidc: OidcSettings;
  policies: TenantPolicies;
  createdAt: Date;
}

export interface OrganizationPolicies {
  /** Restrict PAT creation to the allowlist; also blocks global PAT use in the organization for others. */
  restrictPatCreation: boolean;
  /** With restrictPatCreation, still let everyone create PATs whose scopes are all packaging scopes. */
  allowPackagingPats: boolean;
}

export interface Organization {
  id: string;
  tenantId: string;
  name: string;
  policies: OrganizationPolicies;
  createdAt: Date;
}

export type UserStatus = "active" | "disabled";
export type UserRole = "member" | "admin";

export interface User {
  id: string;
  tenantId: string;
  email: string;
  displayName: string;
  subject: string | null;
  role: UserRole;
  status: UserStatus;
  lastFullSignInAt: Date | null;
  createdAt: Date;
}

export type PatStatus = "active" | "revoked" | "expired";
export type PatFormat = "azdo-pat" | "azdo-pat-legacy";

export interface Pat {
  authorizationId: string;
  tenantId: string;
  userId: string;
  /** The organization the PAT was created in (and the only one it works in unless allOrgs). */
  organizationId: string;
  allOrgs: boolean;
  displayName: string;
  scope: string;
  format: PatFormat;
  /** SHA-256 of the token (hex). Not secret, but never shown in the PAT API. */
  fingerprint: string;
  validFrom: Date;
  validTo: Date;
  status: PatStatus;
  revokedAt: Date | null;
  revokeReason: string | null;
  revokedBy: "user" | "admin" | "system" | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Who did something, as the audit log records it. */
export type Actor =
  | { kind: "user"; user: User }
  /** The admin API key or the command line: full rights over every tenant. */
  | { kind: "admin"; name: string }
  /** patrol itself (leak response, expiry sweep). */
  | { kind: "system"; name: string };

export const SYSTEM_ACTOR: Actor = { kind: "system", name: "patrol" };

export interface TenantRow {
  id: string;
  name: string;
  oidc_issuer: string | null;
  oidc_audience: string | null;
  oidc_jwks_url: string | null;
  auto_revoke_leaked_pats: boolean;
  restrict_global_pats: boolean;
  restrict_full_scope_pats: boolean;
  max_pat_lifespan_days: number | null;
  created_at: Date;
}

export function tenantFromRow(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    oidc: {
      issuer: row.oidc_issuer ?? undefined,
      audience: row.oidc_audience ?? undefined,
      jwksUrl: row.oidc_jwks_url ?? undefined,
    },
    policies: {
      autoRevokeLeakedPats: row.auto_revoke_leaked_pats,
      restrictGlobalPats: row.restrict_global_pats,
      restrictFullScopePats: row.restrict_full_scope_pats,
      maxPatLifespanDays: row.max_pat_lifespan_days,
    },
    createdAt: row.created_at,
  };
}

export interface OrganizationRow {
  id: string;
  tenant_id: string;
  name: string;
  restrict_pat_creation: boolean;
  allow_packaging_pats: boolean;
  created_at: Date;
}

export function organizationFromRow(row: OrganizationRow): Organization {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    policies: {
      restrictPatCreation: row.restrict_pat_creation,
      allowPackagingPats: row.allow_packaging_pats,
    },
    createdAt: row.created_at,
  };
}

export interface UserRow {
  id: string;
  tenant_id: string;
  email: string;
  display_name: string;
  subject: string | null;
  role: UserRole;
  status: UserStatus;
  last_full_sign_in_at: Date | null;
  created_at: Date;
}

export function userFromRow(row: UserRow): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    email: row.email,
    displayName: row.display_name,
    subject: row.subject,
    role: row.role,
    status: row.status,
    lastFullSignInAt: row.last_full_sign_in_at,
    createdAt: row.created_at,
  };
}

export interface PatRow {
  authorization_id: string;
  tenant_id: string;
  user_id: string;
  organization_id: string;
  all_orgs: boolean;
  display_name: string;
  scope: string;
  format: PatFormat;
  fingerprint: string;
  valid_from: Date;
  valid_to: Date;
  status: PatStatus;
  revoked_at: Date | null;
  revoke_reason: string | null;
  revoked_by_kind: "user" | "admin" | "system" | null;
  created_at: Date;
  updated_at: Date;
}

export const PAT_COLUMNS = `authorization_id, tenant_id, user_id, organization_id, all_orgs, display_name, scope, format,
  fingerprint, valid_from, valid_to, status, revoked_at, revoke_reason, revoked_by_kind, created_at, updated_at`;

export function patFromRow(row: PatRow): Pat {
  return {
    authorizationId: row.authorization_id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    organizationId: row.organization_id,
    allOrgs: row.all_orgs,
    displayName: row.display_name,
    scope: row.scope,
    format: row.format,
    fingerprint: row.fingerprint,
    validFrom: row.valid_from,
    validTo: row.valid_to,
    status: row.status,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
    revokedBy: row.revoked_by_kind,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The status a PAT has right now: an active PAT past its validTo is expired even before the sweep runs. */
export function effectiveStatus(pat: Pick<Pat, "status" | "validTo">, now: Date): PatStatus {
  return pat.status === "active" && pat.validTo.getTime() <= now.getTime() ? "expired" : pat.status;
}
