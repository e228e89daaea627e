/** Tenants, organizations, users and groups. */
import { z } from "zod";
import type { Queryable } from "./database.js";
import { conflict, isUniqueViolation, notFound, parseInput } from "./errors.js";
import {
  type Organization,
  type OrganizationRow,
  organizationFromRow,
  type StoreContext,
  type Tenant,
  type TenantRow,
  tenantFromRow,
  type User,
  type UserRole,
  type UserRow,
  type UserStatus,
  userFromRow,
} from "./model.js";

/** Tenant and organization names: Azure DevOps organization-name rules (letters, digits, hyphens; 1-50). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,49}$/;
export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, "must be 1-50 letters, digits or hyphens, starting with a letter or digit");
export const emailSchema = z.string().trim().max(254).pipe(z.email("must be an email address"));
export const userDisplayNameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(256)
  .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");
export const groupNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}]*$/u, "must not contain control characters")
  .transform((g) => g.toLowerCase());
const urlSchema = z.url({ protocol: /^https?$/ }).max(2048);

export const oidcSettingsSchema = z.strictObject({
  issuer: z.string().min(1).max(2048).optional(),
  audience: z.string().min(1).max(2048).optional(),
  jwksUrl: urlSchema.optional(),
});

const TENANT_COLUMNS = `id, name, oidc_issuer, oidc_audience, oidc_jwks_url, auto_revoke_leaked_pats,
  restrict_global_pats, restrict_full_scope_pats, max_pat_lifespan_days, created_at`;
const ORGANIZATION_COLUMNS = "id, tenant_id, name, restrict_pat_creation, allow_packaging_pats, created_at";
export const USER_COLUMNS =
  "id, tenant_id, email, display_name, subject, role, status, last_full_sign_in_at, created_at";

export interface CreateTenantInput {
  name: string;
  oidc?: { issuer?: string; audience?: string; jwksUrl?: string };
}

export async function createTenant(ctx: StoreContext, input: CreateTenantInput): Promise<Tenant> {
  const name = parseInput(nameSchema, input.name, "tenant name");
  const oidc = parseInput(oidcSettingsSchema, input.oidc ?? {}, "tenant OIDC settings");
  try {
    const { rows } = await ctx.db.query<TenantRow>(
      `INSERT INTO tenants (name, oidc_issuer, oidc_audience, oidc_jwks_url) VALUES ($1, $2, $3, $4)
       RETURNING ${TENANT_COLUMNS}`,
      [name, oidc.issuer ?? null, oidc.audience ?? null, oidc.jwksUrl ?? null],
    );
    return tenantFromRow(rows[0]);
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`tenant ${name} already exists`);
    throw error;
  }
}

export async function updateTenantOidc(
  ctx: StoreContext,
  tenantName: string,
  oidc: { issuer?: string | null; audience?: string | null; jwksUrl?: string | null },
): Promise<Tenant> {
  const tenant = await requireTenant(ctx.db, tenantName);
  const nullable = oidcSettingsSchema.extend({
    issuer: z.string().min(1).max(2048).nullable().optional(),
    audience: z.string().min(1).max(2048).nullable().optional(),
    jwksUrl: urlSchema.nullable().optional(),
  });
  const patch = parseInput(nullable, oidc, "tenant OIDC settings");
  const { rows } = await ctx.db.query<TenantRow>(
    `UPDATE tenants SET
       oidc_issuer = CASE WHEN $2 THEN $3 ELSE oidc_issuer END,
       oidc_audience = CASE WHEN $4 THEN $5 ELSE oidc_audience END,
       oidc_jwks_url = CASE WHEN $6 THEN $7 ELSE oidc_jwks_url END,
       updated_at = now()
     WHERE id = $1 RETURNING ${TENANT_COLUMNS}`,
    [
      tenant.id,
      patch.issuer !== undefined,
      patch.issuer ?? null,
      patch.audience !== undefined,
      patch.audience ?? null,
      patch.jwksUrl !== undefined,
      patch.jwksUrl ?? null,
    ],
  );
  return tenantFromRow(rows[0]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A tenant by name (case-insensitive) or id. */
export async function findTenant(db: Queryable, nameOrId: string): Promise<Tenant | null> {
  const byId = UUID.test(nameOrId);
  const { rows } = await db.query<TenantRow>(
    `SELECT ${TENANT_COLUMNS} FROM tenants WHERE ${byId ? "id = $1::uuid" : "lower(name) = lower($1)"}`,
    [nameOrId],
  );
  return rows[0] ? tenantFromRow(rows[0]) : null;
}

export async function requireTenant(db: Queryable, nameOrId: string): Promise<Tenant> {
  const tenant = await findTenant(db, nameOrId);
  if (!tenant) throw notFound(`tenant ${JSON.stringify(nameOrId.slice(0, 64))} does not exist`);
  return tenant;
}

export async function createOrganization(
  ctx: StoreContext,
  input: { tenant: string; name: string },
): Promise<Organization> {
  const name = parseInput(nameSchema, input.name, "organization name");
  const tenant = await requireTenant(ctx.db, input.tenant);
  try {
    const { rows } = await ctx.db.query<OrganizationRow>(
      `INSERT INTO organizations (tenant_id, name) VALUES ($1, $2) RETURNING ${ORGANIZATION_COLUMNS}`,
      [tenant.id, name],
    );
    return organizationFromRow(rows[0]);
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`organization ${name} already exists`);
    throw error;
  }
}

/** An organization by name (case-insensitive). */
export async function findOrganization(db: Queryable, name: string): Promise<Organization | null> {
  if (!NAME_PATTERN.test(name)) return null;
  const { rows } = await db.query<OrganizationRow>(
    `SELECT ${ORGANIZATION_COLUMNS} FROM organizations WHERE lower(name) = lower($1)`,
    [name],
  );
  return rows[0] ? organizationFromRow(rows[0]) : null;
}

export async function requireOrganization(db: Queryable, name: string): Promise<Organization> {
  const organization = await findOrganization(db, name);
  if (!organization) throw notFound(`organization ${JSON.stringify(name.slice(0, 64))} does not exist`);
  return organization;
}

export async function organizationById(db: Queryable, id: string): Promise<Organization> {
  const { rows } = await db.query<OrganizationRow>(
    `SELECT ${ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1`,
    [id],
  );
  if (!rows[0]) throw notFound("organization does not exist");
  return organizationFromRow(rows[0]);
}

export interface CreateUserInput {
  tenant: string;
  email: string;
  displayName: string;
  /** The OIDC subject, when known up front; otherwise bound at the first sign-in by email. */
  subject?: string;
  role?: UserRole;
  groups?: string[];
}

export async function createUser(ctx: StoreContext, input: CreateUserInput): Promise<User> {
  const email = parseInput(emailSchema, input.email, "email");
  const displayName = parseInput(userDisplayNameSchema, input.displayName, "display name");
  const subject =
    input.subject === undefined ? null : parseInput(z.string().min(1).max(255), input.subject, "subject");
  const role = parseInput(z.enum(["member", "admin"]), input.role ?? "member", "role");
  const groups = parseInput(z.array(groupNameSchema).max(100), input.groups ?? [], "groups");
  const tenant = await requireTenant(ctx.db, input.tenant);
  try {
    return await ctx.db.transaction(async (tx) => {
      const { rows } = await tx.query<UserRow>(
        `INSERT INTO users (tenant_id, email, display_name, subject, role) VALUES ($1, $2, $3, $4, $5)
         RETURNING ${USER_COLUMNS}`,
        [tenant.id, email, displayName, subject, role],
      );
      await replaceGroups(tx, tenant.id, rows[0].id, groups);
      return userFromRow(rows[0]);
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`user ${email} already exists in tenant ${tenant.name}`);
    throw error;
  }
}

async function replaceGroups(
  tx: Queryable,
  tenantId: string,
  userId: string,
  groups: string[],
): Promise<void> {
  await tx.query("DELETE FROM group_members WHERE user_id = $1", [userId]);
  if (groups.length === 0) return;
  await tx.query(
    `INSERT INTO group_members (tenant_id, group_name, user_id)
     SELECT $1, g, $2 FROM unnest($3::text[]) AS g ON CONFLICT DO NOTHING`,
    [tenantId, userId, [...new Set(groups)]],
  );
}

export async function findUserByEmail(db: Queryable, tenantId: string, email: string): Promise<User | null> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND lower(email) = lower($2)`,
    [tenantId, email],
  );
  return rows[0] ? userFromRow(rows[0]) : null;
}

export async function requireUser(db: Queryable, tenantName: string, email: string): Promise<User> {
  const tenant = await requireTenant(db, tenantName);
  const user = await findUserByEmail(db, tenant.id, email);
  if (!user)
    throw notFound(`user ${JSON.stringify(email.slice(0, 254))} does not exist in tenant ${tenant.name}`);
  return user;
}

export async function userById(db: Queryable, id: string): Promise<User | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ? userFromRow(rows[0]) : null;
}

/**
 * Disables or re-enables a user. A disabled user's PATs stop authenticating at once: PAT authentication reads
 * the owner's status on every request; nothing is cached.
 */
export async function setUserStatus(
  ctx: StoreContext,
  tenantName: string,
  email: string,
  status: UserStatus,
): Promise<User> {
  const user = await requireUser(ctx.db, tenantName, email);
  const { rows } = await ctx.db.query<UserRow>(
    `UPDATE users SET status = $2, disabled_at = CASE WHEN $2 = 'disabled' THEN now() END, updated_at = now()
     WHERE id = $1 RETURNING ${USER_COLUMNS}`,
    [user.id, status],
  );
  ctx.logger.info({ userId: user.id, status }, "user status changed");
  return userFromRow(rows[0]);
}

export async function setUserGroups(
  ctx: StoreContext,
  tenantName: string,
  email: string,
  groups: string[],
): Promise<string[]> {
  const parsed = parseInput(z.array(groupNameSchema).max(100), groups, "groups");
  const user = await requireUser(ctx.db, tenantName, email);
  await ctx.db.transaction((tx) => replaceGroups(tx, user.tenantId, user.id, parsed));
  return userGroups(ctx.db, user.id);
}

export async function userGroups(db: Queryable, userId: string): Promise<string[]> {
  const { rows } = await db.query<{ group_name: string }>(
    "SELECT group_name FROM group_members WHERE user_id = $1 ORDER BY group_name",
    [userId],
  );
  return rows.map((r) => r.group_name);
}

/**
 * Records a successful OIDC sign-in ("last full sign-in"), binding the subject when the user was matched by
 * email. Written at most once a minute per user, so busy API clients do not turn every call into a write.
 */
export async function recordSignIn(db: Queryable, user: User, subject: string): Promise<User> {
  const recent = user.lastFullSignInAt !== null && Date.now() - user.lastFullSignInAt.getTime() < 60_000;
  if (recent && user.subject === subject) return user;
  const { rows } = await db.query<UserRow>(
    `UPDATE users SET last_full_sign_in_at = now(), subject = coalesce(subject, $2), updated_at = now()
     WHERE id = $1 RETURNING ${USER_COLUMNS}`,
    [user.id, subject],
  );
  return userFromRow(rows[0]);
}

export async function findUserBySubject(
  db: Queryable,
  tenantId: string,
  subject: string,
): Promise<User | null> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND subject = $2`,
    [tenantId, subject],
  );
  return rows[0] ? userFromRow(rows[0]) : null;
}
