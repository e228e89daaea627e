/**
 * Tenants, organizations, users and groups. Every change writes its audit event in the same transaction;
 * changing a tenant's identity provider is the platform administrator's act alone (the admin key or CLI),
 * since whoever controls it can sign in as any user of the tenant.
 */
import { z } from "zod";
import { appendAuditEvent, quoted } from "./audit.js";
import type { Queryable } from "./database.js";
import { conflict, forbidden, invalid, isUniqueViolation, notFound, parseInput } from "./errors.js";
import {
  type Actor,
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
import { plainText } from "./text.js";

/** Who makes a directory change, for its audit event. */
export interface DirectoryChange {
  actor?: Actor;
  correlationId?: string | null;
  ipAddress?: string | null;
}

/** Calls that name no actor (tests, scripts through the store object) are recorded as such, not hidden. */
const UNATTRIBUTED: Actor = { kind: "system", name: "patrol (no actor given)" };

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
  .pipe(plainText(256));
export const groupNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .pipe(plainText(128))
  .transform((g) => g.toLowerCase());
const urlSchema = z.url({ protocol: /^https?$/ }).max(2048);
const oidcTextSchema = z.string().min(1).pipe(plainText(2048));
/** An OIDC `sub`: case-sensitive, at most 255 characters (OpenID Connect Core 1.0, section 2). */
export const subjectSchema = z.string().min(1, "must not be empty").max(255).pipe(plainText(255));

export const oidcSettingsSchema = z.strictObject({
  issuer: oidcTextSchema.optional(),
  audience: oidcTextSchema.optional(),
  jwksUrl: urlSchema.optional(),
});

/** https, or http to a loopback address outside production; where it may point is checked again at fetch. */
function checkJwksUrl(ctx: StoreContext, url: string | null | undefined): void {
  if (url === null || url === undefined) return;
  const parsed = new URL(url);
  const loopback = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/i.test(parsed.hostname);
  if (parsed.protocol === "https:" || (ctx.oidcPolicy.allowHttpLoopback && loopback)) return;
  throw invalid(
    ctx.oidcPolicy.allowHttpLoopback
      ? "OIDC jwksUrl must use https (http only to a loopback address in development)"
      : "OIDC jwksUrl must use https",
  );
}

function audited(change: DirectoryChange | undefined) {
  return {
    actor: change?.actor ?? UNATTRIBUTED,
    correlationId: change?.correlationId ?? null,
    ipAddress: change?.ipAddress ?? null,
  };
}

const TENANT_COLUMNS = `id, name, oidc_issuer, oidc_audience, oidc_jwks_url, auto_revoke_leaked_pats,
  restrict_global_pats, restrict_full_scope_pats, max_pat_lifespan_days, created_at`;
const ORGANIZATION_COLUMNS = "id, tenant_id, name, restrict_pat_creation, allow_packaging_pats, created_at";
export const USER_COLUMNS =
  "id, tenant_id, email, display_name, subject, role, status, last_full_sign_in_at, created_at";

export interface CreateTenantInput {
  name: string;
  oidc?: { issuer?: string; audience?: string; jwksUrl?: string };
}

export async function createTenant(
  ctx: StoreContext,
  input: CreateTenantInput,
  change?: DirectoryChange,
): Promise<Tenant> {
  const name = parseInput(nameSchema, input.name, "tenant name");
  const oidc = parseInput(oidcSettingsSchema, input.oidc ?? {}, "tenant OIDC settings");
  checkJwksUrl(ctx, oidc.jwksUrl);
  const who = audited(change);
  if (who.actor.kind === "user")
    throw forbidden("only the platform administrator creates tenants", "accessDenied");
  try {
    return await ctx.db.transaction(async (tx) => {
      const { rows } = await tx.query<TenantRow>(
        `INSERT INTO tenants (name, oidc_issuer, oidc_audience, oidc_jwks_url) VALUES ($1, $2, $3, $4)
         RETURNING ${TENANT_COLUMNS}`,
        [name, oidc.issuer ?? null, oidc.audience ?? null, oidc.jwksUrl ?? null],
      );
      const tenant = tenantFromRow(rows[0]);
      await appendAuditEvent(ctx, tx, {
        tenantId: tenant.id,
        organization: null,
        ...who,
        actionId: "Tenant.Create",
        details: `Tenant ${quoted(tenant.name)} was created`,
        data: { tenantName: tenant.name, ...oidcAuditData("", tenant.oidc) },
      });
      return tenant;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`tenant ${name} already exists`);
    throw error;
  }
}

function oidcAuditData(prefix: "" | "old" | "new", oidc: Tenant["oidc"]) {
  const key = (name: string) => (prefix === "" ? name : `${prefix}${name[0].toUpperCase()}${name.slice(1)}`);
  return {
    [key("oidcIssuer")]: oidc.issuer ?? null,
    [key("oidcAudience")]: oidc.audience ?? null,
    [key("oidcJwksUrl")]: oidc.jwksUrl ?? null,
  };
}

/**
 * Points a tenant at another identity provider. Only the platform administrator may: a tenant administrator
 * who could would sign tokens for any user of the tenant. Audited with the old and the new values.
 */
export async function updateTenantOidc(
  ctx: StoreContext,
  tenantName: string,
  oidc: { issuer?: string | null; audience?: string | null; jwksUrl?: string | null },
  change?: DirectoryChange,
): Promise<Tenant> {
  const who = audited(change);
  if (who.actor.kind !== "admin") {
    throw forbidden(
      "only the platform administrator (the admin API key) changes a tenant's identity provider",
      "accessDenied",
    );
  }
  const nullable = oidcSettingsSchema.extend({
    issuer: oidcTextSchema.nullable().optional(),
    audience: oidcTextSchema.nullable().optional(),
    jwksUrl: urlSchema.nullable().optional(),
  });
  const patch = parseInput(nullable, oidc, "tenant OIDC settings");
  checkJwksUrl(ctx, patch.jwksUrl);
  const tenant = await requireTenant(ctx.db, tenantName);
  return ctx.db.transaction(async (tx) => {
    const { rows: before } = await tx.query<TenantRow>(
      `SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1 FOR UPDATE`,
      [tenant.id],
    );
    const old = tenantFromRow(before[0]);
    const { rows } = await tx.query<TenantRow>(
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
    const updated = tenantFromRow(rows[0]);
    await appendAuditEvent(ctx, tx, {
      tenantId: tenant.id,
      organization: null,
      ...who,
      actionId: "Tenant.IdentityProviderUpdated",
      details: `The identity provider of tenant ${quoted(tenant.name)} was changed`,
      data: {
        tenantName: tenant.name,
        ...oidcAuditData("old", old.oidc),
        ...oidcAuditData("new", updated.oidc),
      },
    });
    ctx.logger.warn({ tenant: tenant.name }, "tenant identity provider changed");
    return updated;
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A tenant by name (case-insensitive) or id. */
export async function findTenant(db: Queryable, nameOrId: string): Promise<Tenant | null> {
  const byId = UUID.test(nameOrId);
  // Nothing else can name a tenant (and Postgres text cannot even hold some of it, NUL for one).
  if (!byId && !NAME_PATTERN.test(nameOrId)) return null;
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
  change?: DirectoryChange,
): Promise<Organization> {
  const name = parseInput(nameSchema, input.name, "organization name");
  const tenant = await requireTenant(ctx.db, input.tenant);
  try {
    return await ctx.db.transaction(async (tx) => {
      const { rows } = await tx.query<OrganizationRow>(
        `INSERT INTO organizations (tenant_id, name) VALUES ($1, $2) RETURNING ${ORGANIZATION_COLUMNS}`,
        [tenant.id, name],
      );
      const organization = organizationFromRow(rows[0]);
      await appendAuditEvent(ctx, tx, {
        tenantId: tenant.id,
        organization: { id: organization.id, name: organization.name },
        ...audited(change),
        actionId: "Organization.Create",
        details: `Organization ${quoted(organization.name)} was created in tenant ${quoted(tenant.name)}`,
        data: { organizationId: organization.id, organizationName: organization.name },
      });
      return organization;
    });
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

export async function createUser(
  ctx: StoreContext,
  input: CreateUserInput,
  change?: DirectoryChange,
): Promise<User> {
  const email = parseInput(emailSchema, input.email, "email");
  const displayName = parseInput(userDisplayNameSchema, input.displayName, "display name");
  const subject = input.subject === undefined ? null : parseInput(subjectSchema, input.subject, "subject");
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
      const user = userFromRow(rows[0]);
      await replaceGroups(tx, tenant.id, user.id, groups);
      await appendAuditEvent(ctx, tx, {
        tenantId: tenant.id,
        organization: null,
        ...audited(change),
        actionId: "User.Create",
        details: `User ${quoted(user.displayName)} <${quoted(user.email)}> was created with the ${user.role} role`,
        data: {
          userId: user.id,
          email: user.email,
          displayName: user.displayName,
          role: user.role,
          subject: user.subject,
          groups: [...new Set(groups)].sort().join(", "),
        },
      });
      return user;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`user ${email} already exists in tenant ${tenant.name}`);
    throw error;
  }
}

/** Sets a user's groups; returns the groups added and removed. */
async function replaceGroups(
  tx: Queryable,
  tenantId: string,
  userId: string,
  groups: string[],
): Promise<{ added: string[]; removed: string[] }> {
  const { rows } = await tx.query<{ group_name: string }>(
    "DELETE FROM group_members WHERE user_id = $1 RETURNING group_name",
    [userId],
  );
  const before = new Set(rows.map((r) => r.group_name));
  const after = new Set(groups);
  if (after.size > 0) {
    await tx.query(
      `INSERT INTO group_members (tenant_id, group_name, user_id)
       SELECT $1, g, $2 FROM unnest($3::text[]) AS g ON CONFLICT DO NOTHING`,
      [tenantId, userId, [...after]],
    );
  }
  return {
    added: [...after].filter((g) => !before.has(g)).sort(),
    removed: [...before].filter((g) => !after.has(g)).sort(),
  };
}

export async function findUserByEmail(db: Queryable, tenantId: string, email: string): Promise<User | null> {
  if (!emailSchema.safeParse(email).success) return null;
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
  change?: DirectoryChange,
): Promise<User> {
  const found = await requireUser(ctx.db, tenantName, email);
  return ctx.db.transaction(async (tx) => {
    const { rows: before } = await tx.query<{ status: UserStatus }>(
      "SELECT status FROM users WHERE id = $1 FOR UPDATE",
      [found.id],
    );
    const { rows } = await tx.query<UserRow>(
      `UPDATE users SET status = $2, disabled_at = CASE WHEN $2 = 'disabled' THEN now() END, updated_at = now()
       WHERE id = $1 RETURNING ${USER_COLUMNS}`,
      [found.id, status],
    );
    const user = userFromRow(rows[0]);
    if (before[0].status !== status) {
      await appendAuditEvent(ctx, tx, {
        tenantId: user.tenantId,
        organization: null,
        ...audited(change),
        actionId: status === "disabled" ? "User.Disable" : "User.Enable",
        details: `User ${quoted(user.displayName)} <${quoted(user.email)}> was ${status === "disabled" ? "disabled" : "enabled"}`,
        data: { userId: user.id, email: user.email, displayName: user.displayName, status },
      });
      ctx.logger.info({ userId: user.id, status }, "user status changed");
    }
    return user;
  });
}

export async function setUserGroups(
  ctx: StoreContext,
  tenantName: string,
  email: string,
  groups: string[],
  change?: DirectoryChange,
): Promise<string[]> {
  const parsed = parseInput(z.array(groupNameSchema).max(100), groups, "groups");
  const user = await requireUser(ctx.db, tenantName, email);
  await ctx.db.transaction(async (tx) => {
    await tx.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [user.id]);
    const { added, removed } = await replaceGroups(tx, user.tenantId, user.id, parsed);
    const who = audited(change);
    for (const [actionId, list, verb] of [
      ["Group.UpdateGroupMembership.Add", added, "added to"],
      ["Group.UpdateGroupMembership.Remove", removed, "removed from"],
    ] as const) {
      if (list.length === 0) continue;
      await appendAuditEvent(ctx, tx, {
        tenantId: user.tenantId,
        organization: null,
        ...who,
        actionId,
        details: `User ${quoted(user.displayName)} <${quoted(user.email)}> was ${verb} group(s) ${list.map(quoted).join(", ")}`,
        data: { userId: user.id, email: user.email, displayName: user.displayName, groups: list.join(", ") },
      });
    }
  });
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
 * Records a successful OIDC sign-in ("last full sign-in"). A user matched by email gets `subject` bound here,
 * once: the UPDATE binds only while no subject is bound, so of two first sign-ins racing with different
 * subjects exactly one wins and the other is refused. Written at most once a minute per user otherwise, so
 * busy API clients do not turn every call into a write. Returns null when the user is bound to another subject.
 */
export async function recordSignIn(db: Queryable, user: User, subject: string): Promise<User | null> {
  const recent = user.lastFullSignInAt !== null && Date.now() - user.lastFullSignInAt.getTime() < 60_000;
  if (recent && user.subject === subject) return user;
  try {
    const { rows } = await db.query<UserRow>(
      `UPDATE users SET last_full_sign_in_at = now(), subject = coalesce(subject, $2), updated_at = now()
       WHERE id = $1 AND (subject IS NULL OR subject = $2) RETURNING ${USER_COLUMNS}`,
      [user.id, subject],
    );
    return rows[0] ? userFromRow(rows[0]) : null;
  } catch (error) {
    // The subject is already bound to another user of the tenant (users_subject_key).
    if (isUniqueViolation(error)) return null;
    throw error;
  }
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
