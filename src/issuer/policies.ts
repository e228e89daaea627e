/**
 * Tenant and organization PAT policies (Azure DevOps semantics), each with its own allowlist of users and
 * groups exempt from it. Policies are checked when a PAT is created, updated or renewed; changing a policy
 * never touches existing PATs.
 */
import { z } from "zod";
import { appendAuditEvent } from "./audit.js";
import type { Queryable } from "./database.js";
import {
  emailSchema,
  findUserByEmail,
  groupNameSchema,
  requireOrganization,
  requireTenant,
} from "./directory.js";
import { IssuerError, invalid, parseInput } from "./errors.js";
import {
  type Actor,
  type Organization,
  type OrganizationPolicies,
  type OrganizationRow,
  organizationFromRow,
  type StoreContext,
  type TenantPolicies,
  type TenantRow,
  tenantFromRow,
} from "./model.js";
import { isFullScope, isPackagingOnly } from "./scopes.js";

export const TENANT_POLICY_NAMES = [
  "autoRevokeLeakedPats",
  "restrictGlobalPats",
  "restrictFullScopePats",
  "maxPatLifespan",
] as const;
export type TenantPolicyName = (typeof TENANT_POLICY_NAMES)[number];
export type OrganizationPolicyName = "restrictPatCreation";
export type PolicyName = TenantPolicyName | OrganizationPolicyName;
export const POLICY_NAMES: readonly PolicyName[] = [...TENANT_POLICY_NAMES, "restrictPatCreation"];

const POLICY_TITLES: Record<PolicyName, string> = {
  autoRevokeLeakedPats: "Automatically revoke leaked personal access tokens",
  restrictGlobalPats: "Restrict global personal access token creation",
  restrictFullScopePats: "Restrict full-scoped personal access token creation",
  maxPatLifespan: "Enforce maximum personal access token lifespan",
  restrictPatCreation: "Restrict personal access token creation",
};

export const tenantPoliciesPatchSchema = z.strictObject({
  autoRevokeLeakedPats: z.boolean().optional(),
  restrictGlobalPats: z.boolean().optional(),
  restrictFullScopePats: z.boolean().optional(),
  /** Days; null turns the policy off. */
  maxPatLifespanDays: z.number().int().min(1).max(366).nullable().optional(),
});
export type TenantPoliciesPatch = z.infer<typeof tenantPoliciesPatchSchema>;

export const organizationPoliciesPatchSchema = z.strictObject({
  restrictPatCreation: z.boolean().optional(),
  allowPackagingPats: z.boolean().optional(),
});
export type OrganizationPoliciesPatch = z.infer<typeof organizationPoliciesPatchSchema>;

export const allowlistSchema = z.strictObject({
  users: z.array(emailSchema).max(1000).default([]),
  groups: z.array(groupNameSchema).max(1000).default([]),
});
export type AllowlistInput = z.input<typeof allowlistSchema>;
export interface Allowlist {
  users: string[];
  groups: string[];
}

const describe = (value: boolean | number | null) =>
  value === true ? "On" : value === false || value === null ? "Off" : `${value} days`;

export async function setTenantPolicies(
  ctx: StoreContext,
  tenantName: string,
  patch: TenantPoliciesPatch,
  actor: Actor,
): Promise<TenantPolicies> {
  const parsed = parseInput(tenantPoliciesPatchSchema, patch, "tenant policies");
  const tenant = await requireTenant(ctx.db, tenantName);
  return ctx.db.transaction(async (tx) => {
    const { rows: before } = await tx.query<TenantRow>("SELECT * FROM tenants WHERE id = $1 FOR UPDATE", [
      tenant.id,
    ]);
    const old = tenantFromRow(before[0]).policies;
    const next: TenantPolicies = {
      autoRevokeLeakedPats: parsed.autoRevokeLeakedPats ?? old.autoRevokeLeakedPats,
      restrictGlobalPats: parsed.restrictGlobalPats ?? old.restrictGlobalPats,
      restrictFullScopePats: parsed.restrictFullScopePats ?? old.restrictFullScopePats,
      maxPatLifespanDays:
        parsed.maxPatLifespanDays === undefined ? old.maxPatLifespanDays : parsed.maxPatLifespanDays,
    };
    await tx.query(
      `UPDATE tenants SET auto_revoke_leaked_pats = $2, restrict_global_pats = $3, restrict_full_scope_pats = $4,
         max_pat_lifespan_days = $5, updated_at = now() WHERE id = $1`,
      [
        tenant.id,
        next.autoRevokeLeakedPats,
        next.restrictGlobalPats,
        next.restrictFullScopePats,
        next.maxPatLifespanDays,
      ],
    );
    const changes: [PolicyName, boolean | number | null, boolean | number | null][] = [
      ["autoRevokeLeakedPats", old.autoRevokeLeakedPats, next.autoRevokeLeakedPats],
      ["restrictGlobalPats", old.restrictGlobalPats, next.restrictGlobalPats],
      ["restrictFullScopePats", old.restrictFullScopePats, next.restrictFullScopePats],
      ["maxPatLifespan", old.maxPatLifespanDays, next.maxPatLifespanDays],
    ];
    for (const [policy, from, to] of changes) {
      if (from === to) continue;
      await appendAuditEvent(ctx, tx, {
        tenantId: tenant.id,
        organization: null,
        actor,
        actionId: "Policy.PolicyValueUpdated",
        details: `Policy "${POLICY_TITLES[policy]}" was changed from ${describe(from)} to ${describe(to)}`,
        data: { policy, oldValue: describe(from), newValue: describe(to) },
      });
    }
    return next;
  });
}

export async function setOrganizationPolicies(
  ctx: StoreContext,
  organizationName: string,
  patch: OrganizationPoliciesPatch,
  actor: Actor,
): Promise<OrganizationPolicies> {
  const parsed = parseInput(organizationPoliciesPatchSchema, patch, "organization policies");
  const organization = await requireOrganization(ctx.db, organizationName);
  return ctx.db.transaction(async (tx) => {
    const { rows } = await tx.query<OrganizationRow>("SELECT * FROM organizations WHERE id = $1 FOR UPDATE", [
      organization.id,
    ]);
    const old = organizationFromRow(rows[0]).policies;
    const next: OrganizationPolicies = {
      restrictPatCreation: parsed.restrictPatCreation ?? old.restrictPatCreation,
      allowPackagingPats: parsed.allowPackagingPats ?? old.allowPackagingPats,
    };
    await tx.query(
      "UPDATE organizations SET restrict_pat_creation = $2, allow_packaging_pats = $3, updated_at = now() WHERE id = $1",
      [organization.id, next.restrictPatCreation, next.allowPackagingPats],
    );
    const changes: [string, boolean, boolean][] = [
      [POLICY_TITLES.restrictPatCreation, old.restrictPatCreation, next.restrictPatCreation],
      [
        `${POLICY_TITLES.restrictPatCreation}: allow packaging-scoped PATs`,
        old.allowPackagingPats,
        next.allowPackagingPats,
      ],
    ];
    for (const [title, from, to] of changes) {
      if (from === to) continue;
      await appendAuditEvent(ctx, tx, {
        tenantId: organization.tenantId,
        organization: { id: organization.id, name: organization.name },
        actor,
        actionId: "Policy.PolicyValueUpdated",
        details: `Policy "${title}" was changed from ${describe(from)} to ${describe(to)}`,
        data: {
          policy: title === POLICY_TITLES.restrictPatCreation ? "restrictPatCreation" : "allowPackagingPats",
          oldValue: describe(from),
          newValue: describe(to),
        },
      });
    }
    return next;
  });
}

export interface AllowlistTarget {
  tenant?: string;
  /** Required for restrictPatCreation, the organization policy. */
  organization?: string;
  policy: PolicyName;
}

async function resolveTarget(db: Queryable, target: AllowlistTarget) {
  if (!POLICY_NAMES.includes(target.policy)) {
    throw invalid(
      `unknown policy ${JSON.stringify(String(target.policy).slice(0, 64))}; one of ${POLICY_NAMES.join(", ")}`,
    );
  }
  if (target.policy === "restrictPatCreation") {
    if (!target.organization)
      throw invalid("restrictPatCreation is an organization policy: name the organization");
    const organization = await requireOrganization(db, target.organization);
    return { tenantId: organization.tenantId, organization: organization as Organization | null };
  }
  if (!target.tenant) throw invalid(`${target.policy} is a tenant policy: name the tenant`);
  const tenant = await requireTenant(db, target.tenant);
  return { tenantId: tenant.id, organization: null as Organization | null };
}

/** Replaces a policy's allowlist. Every user must exist in the tenant; otherwise nothing changes. */
export async function setAllowlist(
  ctx: StoreContext,
  target: AllowlistTarget,
  input: AllowlistInput,
  actor: Actor,
): Promise<Allowlist> {
  const parsed = parseInput(allowlistSchema, input, "allowlist");
  const { tenantId, organization } = await resolveTarget(ctx.db, target);
  const userIds: string[] = [];
  for (const email of new Set(parsed.users.map((u) => u.toLowerCase()))) {
    const user = await findUserByEmail(ctx.db, tenantId, email);
    if (!user) throw invalid(`allowlist: user ${JSON.stringify(email)} does not exist in the tenant`);
    userIds.push(user.id);
  }
  const groups = [...new Set(parsed.groups)];
  await ctx.db.transaction(async (tx) => {
    await tx.query(
      "DELETE FROM policy_allowlist_entries WHERE tenant_id = $1 AND policy = $2 AND organization_id IS NOT DISTINCT FROM $3",
      [tenantId, target.policy, organization?.id ?? null],
    );
    await tx.query(
      `INSERT INTO policy_allowlist_entries (tenant_id, organization_id, policy, user_id)
       SELECT $1, $2, $3, u FROM unnest($4::uuid[]) AS u`,
      [tenantId, organization?.id ?? null, target.policy, userIds],
    );
    await tx.query(
      `INSERT INTO policy_allowlist_entries (tenant_id, organization_id, policy, group_name)
       SELECT $1, $2, $3, g FROM unnest($4::text[]) AS g`,
      [tenantId, organization?.id ?? null, target.policy, groups],
    );
    const allowlist = await readAllowlist(tx, tenantId, target.policy, organization?.id ?? null);
    await appendAuditEvent(ctx, tx, {
      tenantId,
      organization: organization ? { id: organization.id, name: organization.name } : null,
      actor,
      actionId: "Policy.PolicyValueUpdated",
      details: `The allowlist of policy "${POLICY_TITLES[target.policy]}" was set to ${allowlist.users.length} user(s) and ${allowlist.groups.length} group(s)`,
      data: {
        policy: target.policy,
        allowlistUsers: allowlist.users.join(", "),
        allowlistGroups: allowlist.groups.join(", "),
      },
    });
  });
  return readAllowlist(ctx.db, tenantId, target.policy, organization?.id ?? null);
}

export async function getAllowlist(ctx: StoreContext, target: AllowlistTarget): Promise<Allowlist> {
  const { tenantId, organization } = await resolveTarget(ctx.db, target);
  return readAllowlist(ctx.db, tenantId, target.policy, organization?.id ?? null);
}

async function readAllowlist(
  db: Queryable,
  tenantId: string,
  policy: PolicyName,
  organizationId: string | null,
): Promise<Allowlist> {
  const { rows } = await db.query<{ email: string | null; group_name: string | null }>(
    `SELECT u.email, a.group_name FROM policy_allowlist_entries a LEFT JOIN users u ON u.id = a.user_id
     WHERE a.tenant_id = $1 AND a.policy = $2 AND a.organization_id IS NOT DISTINCT FROM $3
     ORDER BY u.email, a.group_name`,
    [tenantId, policy, organizationId],
  );
  return {
    users: rows.flatMap((r) => (r.email ? [r.email] : [])),
    groups: rows.flatMap((r) => (r.group_name ? [r.group_name] : [])),
  };
}

/** The policies (tenant ones, and the organization's restrictPatCreation) whose allowlists hold the user. */
export async function loadExemptions(
  db: Queryable,
  userId: string,
  tenantId: string,
  organizationId: string,
): Promise<Set<PolicyName>> {
  const { rows } = await db.query<{ policy: PolicyName }>(
    `SELECT DISTINCT a.policy FROM policy_allowlist_entries a
     WHERE a.tenant_id = $1 AND (a.organization_id IS NULL OR a.organization_id = $3)
       AND (a.user_id = $2 OR a.group_name IN (SELECT g.group_name FROM group_members g WHERE g.user_id = $2))`,
    [tenantId, userId, organizationId],
  );
  return new Set(rows.map((r) => r.policy));
}

export interface PatPolicyInput {
  tenant: TenantPolicies;
  organization: OrganizationPolicies;
  exemptions: Set<PolicyName>;
  scope: string;
  allOrgs: boolean;
  validTo: Date;
  now: Date;
}

/**
 * The first policy the PAT (as it would be after this create, update or renewal) breaks, or null.
 * Checked in Azure DevOps's order: the organization's creation restriction, then global, full scope, lifespan.
 */
export function checkPatPolicies(input: PatPolicyInput): IssuerError | null {
  const { tenant, organization, exemptions } = input;
  if (
    organization.restrictPatCreation &&
    !exemptions.has("restrictPatCreation") &&
    !(organization.allowPackagingPats && isPackagingOnly(input.scope) && !input.allOrgs)
  ) {
    const hint = organization.allowPackagingPats
      ? " Only organization-scoped PATs with packaging scopes (vso.packaging*) are allowed."
      : "";
    return new IssuerError(
      "policy",
      `This organization restricts personal access token creation to its allowlist, and you are not on it.${hint}`,
      "disablePatCreationPolicyViolation",
    );
  }
  if (tenant.restrictGlobalPats && input.allOrgs && !exemptions.has("restrictGlobalPats")) {
    return new IssuerError(
      "policy",
      "Your tenant restricts global (all accessible organizations) PATs: create the PAT for one organization.",
      "globalPatPolicyViolation",
    );
  }
  if (tenant.restrictFullScopePats && isFullScope(input.scope) && !exemptions.has("restrictFullScopePats")) {
    return new IssuerError(
      "policy",
      "Your tenant restricts full-scoped PATs (app_token): choose the named scopes you need.",
      "fullScopePatPolicyViolation",
    );
  }
  const maxDays = tenant.maxPatLifespanDays;
  if (maxDays !== null && !exemptions.has("maxPatLifespan")) {
    const limit = input.now.getTime() + maxDays * 86_400_000;
    if (input.validTo.getTime() > limit) {
      return new IssuerError(
        "policy",
        `Your tenant limits PAT lifespan to ${maxDays} days: choose a validTo on or before ${new Date(limit).toISOString()}.`,
        "patLifespanPolicyViolation",
      );
    }
  }
  return null;
}
