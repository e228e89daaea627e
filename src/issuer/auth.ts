/**
 * Authentication with a PAT: the token's SHA-256 is looked up and every condition is checked on each request
 * (status, validity window, owner status, organization, organization policy), so revoking, expiry and
 * disabling a user take effect at once. Nothing is cached.
 */
import { fingerprint, parseToken } from "../tokens/index.js";
import { USER_COLUMNS } from "./directory.js";
import type { PatStatus, StoreContext, User, UserRow } from "./model.js";
import { userFromRow } from "./model.js";

export type PatAuthFailure =
  | "malformed"
  | "unknown"
  | "revoked"
  | "expired"
  | "notYetValid"
  | "userDisabled"
  | "unknownOrganization"
  | "wrongOrganization"
  | "policyBlocked";

export interface PatIdentity {
  user: User;
  pat: { authorizationId: string; displayName: string; scope: string; allOrgs: boolean };
  tenant: { id: string; name: string };
  /** The organization the request was for, when it named one. */
  organization: { id: string; name: string } | null;
}

export type PatAuthResult = { ok: true; identity: PatIdentity } | { ok: false; reason: PatAuthFailure };

interface AuthRow extends UserRow {
  authorization_id: string;
  pat_tenant_id: string;
  pat_organization_id: string;
  all_orgs: boolean;
  pat_display_name: string;
  scope: string;
  pat_status: PatStatus;
  valid_from: Date;
  valid_to: Date;
  tenant_name: string;
  target_id: string | null;
  target_tenant_id: string | null;
  target_name: string | null;
  blocked_by_org_policy: boolean | null;
}

const USER_SELECT = USER_COLUMNS.split(",")
  .map((c) => `u.${c.trim()}`)
  .join(", ");

/**
 * Checks a PAT presented for `organization` (or for no organization, as `/_apis/connectionData` at the root).
 * One query. The reason is for logs and metrics; callers answer every failure with the same 401.
 */
export async function authenticatePat(
  ctx: StoreContext,
  token: string,
  options: { organization?: string } = {},
): Promise<PatAuthResult> {
  // Only shapes patrol issues reach the database; current-format keys must also carry a valid checksum.
  if (token.length > 128 || parseToken(token) === null) return { ok: false, reason: "malformed" };
  const { rows } = await ctx.db.query<AuthRow>(
    `SELECT ${USER_SELECT},
            p.authorization_id, p.tenant_id AS pat_tenant_id, p.organization_id AS pat_organization_id, p.all_orgs,
            p.display_name AS pat_display_name, p.scope, p.status AS pat_status, p.valid_from, p.valid_to,
            t.name AS tenant_name,
            o.id AS target_id, o.tenant_id AS target_tenant_id, o.name AS target_name,
            (o.restrict_pat_creation AND p.all_orgs AND NOT EXISTS (
               SELECT 1 FROM policy_allowlist_entries a
               WHERE a.organization_id = o.id AND a.policy = 'restrictPatCreation'
                 AND (a.user_id = p.user_id
                      OR a.group_name IN (SELECT g.group_name FROM group_members g WHERE g.user_id = p.user_id))
            )) AS blocked_by_org_policy
     FROM pats p
     JOIN users u ON u.id = p.user_id
     JOIN tenants t ON t.id = p.tenant_id
     LEFT JOIN organizations o ON $2::text IS NOT NULL AND lower(o.name) = lower($2::text)
     WHERE p.fingerprint = $1`,
    [fingerprint(token), options.organization ?? null],
    { name: "patrol_authenticate_pat" },
  );
  const row = rows[0];
  if (!row) return { ok: false, reason: "unknown" };
  const now = ctx.now().getTime();
  if (row.pat_status === "revoked") return { ok: false, reason: "revoked" };
  if (row.pat_status === "expired" || row.valid_to.getTime() <= now) return { ok: false, reason: "expired" };
  if (row.valid_from.getTime() > now) return { ok: false, reason: "notYetValid" };
  if (row.status !== "active") return { ok: false, reason: "userDisabled" };
  let organization: PatIdentity["organization"] = null;
  if (options.organization !== undefined) {
    if (row.target_id === null || row.target_name === null)
      return { ok: false, reason: "unknownOrganization" };
    const sameTenant = row.target_tenant_id === row.pat_tenant_id;
    if (!sameTenant || !(row.all_orgs || row.pat_organization_id === row.target_id)) {
      return { ok: false, reason: "wrongOrganization" };
    }
    // The organization's "Restrict PAT creation" policy also blocks global PATs of users not on its allowlist.
    if (row.blocked_by_org_policy) return { ok: false, reason: "policyBlocked" };
    organization = { id: row.target_id, name: row.target_name };
  }
  return {
    ok: true,
    identity: {
      user: userFromRow(row),
      pat: {
        authorizationId: row.authorization_id,
        displayName: row.pat_display_name,
        scope: row.scope,
        allOrgs: row.all_orgs,
      },
      tenant: { id: row.pat_tenant_id, name: row.tenant_name },
      organization,
    },
  };
}
