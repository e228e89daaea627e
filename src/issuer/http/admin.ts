/**
 * Administration under `/_apis/patrol`: tenants, organizations, users, groups, policies and their allowlists,
 * and revoking anyone's PAT. Creating a tenant takes the admin API key; everything else also accepts a user
 * with the admin role in that tenant.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { emailSchema, groupNameSchema, oidcSettingsSchema } from "../directory.js";
import { invalid } from "../errors.js";
import type { Actor, Organization, Tenant, User } from "../model.js";
import {
  allowlistSchema,
  organizationPoliciesPatchSchema,
  type PolicyName,
  TENANT_POLICY_NAMES,
  tenantPoliciesPatchSchema,
} from "../policies.js";
import { type IssuerHttpContext, parseRequest, requireTenantAdmin, routeDocs } from "./context.js";
import { correlationId, patTokenView } from "./pats.js";

const tenantParams = z.object({ tenant: z.string().min(1).max(100) });
const organizationParams = z.object({ organization: z.string().min(1).max(100) });
const tenantPolicyParams = tenantParams.extend({ policy: z.enum(TENANT_POLICY_NAMES) });
const userParams = tenantParams.extend({ email: z.string().min(1).max(254) });
const authorizationParams = z.object({
  authorizationId: z.uuid({ error: "authorizationId must be a GUID" }),
});

const createTenantBody = z.strictObject({ name: z.string(), oidc: oidcSettingsSchema.optional() });
const oidcPatchBody = z.strictObject({
  issuer: z.string().min(1).max(2048).nullable().optional(),
  audience: z.string().min(1).max(2048).nullable().optional(),
  jwksUrl: z.string().min(1).max(2048).nullable().optional(),
});
const createOrganizationBody = z.strictObject({ name: z.string() });
const createUserBody = z.strictObject({
  email: z.string(),
  displayName: z.string(),
  subject: z.string().optional(),
  role: z.enum(["member", "admin"]).optional(),
  groups: z.array(groupNameSchema).max(100).optional(),
});
const updateUserBody = z.strictObject({
  status: z.enum(["active", "disabled"]).optional(),
  groups: z.array(groupNameSchema).max(100).optional(),
});
const revokeBody = z.strictObject({ reason: z.string().max(512).optional() }).optional();

export function tenantView(tenant: Tenant) {
  return {
    id: tenant.id,
    name: tenant.name,
    oidc: {
      issuer: tenant.oidc.issuer ?? null,
      audience: tenant.oidc.audience ?? null,
      jwksUrl: tenant.oidc.jwksUrl ?? null,
    },
    policies: tenant.policies,
    createdAt: tenant.createdAt.toISOString(),
  };
}

export function organizationView(organization: Organization) {
  return {
    id: organization.id,
    tenantId: organization.tenantId,
    name: organization.name,
    policies: organization.policies,
    createdAt: organization.createdAt.toISOString(),
  };
}

export function userView(user: User, groups: string[]) {
  return {
    id: user.id,
    tenantId: user.tenantId,
    email: user.email,
    displayName: user.displayName,
    subject: user.subject,
    role: user.role,
    status: user.status,
    groups,
    lastFullSignInAt: user.lastFullSignInAt?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
  };
}

/** Who made a directory change, for its audit event. */
const change = (request: FastifyRequest, actor: Actor) => ({
  actor,
  correlationId: correlationId(request),
  ipAddress: request.ip,
});

export function registerAdminRoutes(app: FastifyInstance, http: IssuerHttpContext): void {
  const tags = ["Administration"];
  const security: ("oidc" | "adminKey" | "adminKeyHeader")[] = ["oidc", "adminKey", "adminKeyHeader"];
  const { store } = http;

  app.post(
    "/_apis/patrol/tenants",
    {
      schema: routeDocs({
        operationId: "Tenants_Create",
        summary: "Create a tenant (admin API key only)",
        tags,
        body: createTenantBody,
        security: ["adminKey", "adminKeyHeader"],
      }),
    },
    async (request, reply) => {
      const actor = await http.admin(request, null);
      const body = parseRequest(createTenantBody, request.body, "body");
      const tenant = await store.createTenant(body, change(request, actor));
      return reply.code(201).send(tenantView(tenant));
    },
  );

  app.get(
    "/_apis/patrol/tenants/:tenant",
    {
      schema: routeDocs({
        operationId: "Tenants_Get",
        summary: "A tenant with its policies",
        tags,
        params: tenantParams,
        security,
      }),
    },
    async (request) => {
      const { tenant } = await http.tenantAdmin(
        request,
        parseRequest(tenantParams, request.params, "path").tenant,
      );
      return tenantView(tenant);
    },
  );

  app.patch(
    "/_apis/patrol/tenants/:tenant/oidc",
    {
      schema: routeDocs({
        operationId: "Tenants_UpdateOidc",
        summary:
          "Set the tenant's OIDC issuer, audience and JWKS URL (admin API key only; null: the service default)",
        tags,
        params: tenantParams,
        body: oidcPatchBody,
        security,
      }),
    },
    async (request) => {
      const { tenant, actor } = await http.tenantAdmin(
        request,
        parseRequest(tenantParams, request.params, "path").tenant,
      );
      const body = parseRequest(oidcPatchBody, request.body, "body");
      return tenantView(await store.updateTenantOidc(tenant.id, body, change(request, actor)));
    },
  );

  app.get(
    "/_apis/patrol/tenants/:tenant/policies",
    {
      schema: routeDocs({
        operationId: "TenantPolicies_Get",
        summary: "The tenant's PAT policies",
        tags,
        params: tenantParams,
        security,
      }),
    },
    async (request) => {
      const { tenant } = await http.tenantAdmin(
        request,
        parseRequest(tenantParams, request.params, "path").tenant,
      );
      return tenant.policies;
    },
  );

  app.patch(
    "/_apis/patrol/tenants/:tenant/policies",
    {
      schema: routeDocs({
        operationId: "TenantPolicies_Update",
        summary: "Change tenant PAT policies (existing PATs stay valid)",
        tags,
        params: tenantParams,
        body: tenantPoliciesPatchSchema,
        security,
      }),
    },
    async (request) => {
      const { tenant, actor } = await http.tenantAdmin(
        request,
        parseRequest(tenantParams, request.params, "path").tenant,
      );
      const body = parseRequest(tenantPoliciesPatchSchema, request.body, "body");
      return store.setTenantPolicies(tenant.id, body, actor);
    },
  );

  app.get(
    "/_apis/patrol/tenants/:tenant/policies/:policy/allowlist",
    {
      schema: routeDocs({
        operationId: "TenantPolicyAllowlists_Get",
        summary: "A tenant policy's allowlist",
        tags,
        params: tenantPolicyParams,
        security,
      }),
    },
    async (request) => {
      const params = parseRequest(tenantPolicyParams, request.params, "path");
      const { tenant } = await http.tenantAdmin(request, params.tenant);
      return store.getAllowlist({ tenant: tenant.id, policy: params.policy });
    },
  );

  app.put(
    "/_apis/patrol/tenants/:tenant/policies/:policy/allowlist",
    {
      schema: routeDocs({
        operationId: "TenantPolicyAllowlists_Replace",
        summary: "Replace a tenant policy's allowlist (users by email, groups by name)",
        tags,
        params: tenantPolicyParams,
        body: allowlistSchema,
        security,
      }),
    },
    async (request) => {
      const params = parseRequest(tenantPolicyParams, request.params, "path");
      const { tenant, actor } = await http.tenantAdmin(request, params.tenant);
      const body = parseRequest(allowlistSchema, request.body, "body");
      return store.setAllowlist({ tenant: tenant.id, policy: params.policy }, body, actor);
    },
  );

  app.post(
    "/_apis/patrol/tenants/:tenant/organizations",
    {
      schema: routeDocs({
        operationId: "Organizations_Create",
        summary: "Create an organization",
        tags,
        params: tenantParams,
        body: createOrganizationBody,
        security,
      }),
    },
    async (request, reply) => {
      const { tenant, actor } = await http.tenantAdmin(
        request,
        parseRequest(tenantParams, request.params, "path").tenant,
      );
      const body = parseRequest(createOrganizationBody, request.body, "body");
      const organization = await store.createOrganization(
        { tenant: tenant.id, name: body.name },
        change(request, actor),
      );
      return reply.code(201).send(organizationView(organization));
    },
  );

  const organizationAdmin = async (request: Parameters<typeof http.admin>[0]) => {
    const { organization, tenant, actor } = await http.organizationCaller(
      request,
      parseRequest(organizationParams, request.params, "path").organization,
    );
    return { organization, actor: requireTenantAdmin(actor, tenant) };
  };

  app.get(
    "/_apis/patrol/organizations/:organization/policies",
    {
      schema: routeDocs({
        operationId: "OrganizationPolicies_Get",
        summary: "The organization's PAT policy",
        tags,
        params: organizationParams,
        security,
      }),
    },
    async (request) => (await organizationAdmin(request)).organization.policies,
  );

  app.patch(
    "/_apis/patrol/organizations/:organization/policies",
    {
      schema: routeDocs({
        operationId: "OrganizationPolicies_Update",
        summary: "Change the organization's Restrict PAT creation policy and its packaging-only option",
        tags,
        params: organizationParams,
        body: organizationPoliciesPatchSchema,
        security,
      }),
    },
    async (request) => {
      const { organization, actor } = await organizationAdmin(request);
      const body = parseRequest(organizationPoliciesPatchSchema, request.body, "body");
      return store.setOrganizationPolicies(organization.name, body, actor);
    },
  );

  const organizationAllowlistUrl =
    "/_apis/patrol/organizations/:organization/policies/restrictPatCreation/allowlist";
  const target = (organization: Organization) => ({
    organization: organization.name,
    policy: "restrictPatCreation" as PolicyName,
  });

  app.get(
    organizationAllowlistUrl,
    {
      schema: routeDocs({
        operationId: "OrganizationPolicyAllowlists_Get",
        summary: "The Restrict PAT creation allowlist",
        tags,
        params: organizationParams,
        security,
      }),
    },
    async (request) => store.getAllowlist(target((await organizationAdmin(request)).organization)),
  );

  app.put(
    organizationAllowlistUrl,
    {
      schema: routeDocs({
        operationId: "OrganizationPolicyAllowlists_Replace",
        summary: "Replace the Restrict PAT creation allowlist",
        tags,
        params: organizationParams,
        body: allowlistSchema,
        security,
      }),
    },
    async (request) => {
      const { organization, actor } = await organizationAdmin(request);
      const body = parseRequest(allowlistSchema, request.body, "body");
      return store.setAllowlist(target(organization), body, actor);
    },
  );

  app.post(
    "/_apis/patrol/tenants/:tenant/users",
    {
      schema: routeDocs({
        operationId: "Users_Create",
        summary: "Create a user",
        tags,
        params: tenantParams,
        body: createUserBody,
        security,
      }),
    },
    async (request, reply) => {
      const { tenant, actor } = await http.tenantAdmin(
        request,
        parseRequest(tenantParams, request.params, "path").tenant,
      );
      const body = parseRequest(createUserBody, request.body, "body");
      const user = await store.createUser({ tenant: tenant.id, ...body }, change(request, actor));
      return reply.code(201).send(userView(user, await store.userGroups(user.id)));
    },
  );

  app.get(
    "/_apis/patrol/tenants/:tenant/users/:email",
    {
      schema: routeDocs({ operationId: "Users_Get", summary: "A user", tags, params: userParams, security }),
    },
    async (request) => {
      const params = parseRequest(userParams, request.params, "path");
      const { tenant } = await http.tenantAdmin(request, params.tenant);
      const user = await store.getUser(tenant.id, params.email);
      return userView(user, await store.userGroups(user.id));
    },
  );

  app.patch(
    "/_apis/patrol/tenants/:tenant/users/:email",
    {
      schema: routeDocs({
        operationId: "Users_Update",
        summary: "Disable or enable a user (a disabled user's PATs fail at once), or set their groups",
        tags,
        params: userParams,
        body: updateUserBody,
        security,
      }),
    },
    async (request) => {
      const params = parseRequest(userParams, request.params, "path");
      const { tenant, actor } = await http.tenantAdmin(request, params.tenant);
      const body = parseRequest(updateUserBody, request.body, "body");
      if (body.status === undefined && body.groups === undefined)
        throw invalid("nothing to change: send status or groups");
      const email = parseRequest(emailSchema, params.email, "path");
      let user = await store.getUser(tenant.id, email);
      if (body.groups !== undefined)
        await store.setUserGroups(tenant.id, email, body.groups, change(request, actor));
      if (body.status !== undefined)
        user = await store.setUserStatus(tenant.id, email, body.status, change(request, actor));
      return userView(user, await store.userGroups(user.id));
    },
  );

  app.post(
    "/_apis/patrol/pats/:authorizationId/revoke",
    {
      schema: routeDocs({
        operationId: "AdminPats_Revoke",
        summary: "Revoke any user's PAT by authorization id (administrators)",
        tags,
        params: authorizationParams,
        body: z.strictObject({ reason: z.string().max(512).optional() }),
        security,
      }),
    },
    async (request) => {
      const { authorizationId } = parseRequest(authorizationParams, request.params, "path");
      const body = parseRequest(revokeBody, request.body ?? undefined, "body");
      // OIDC needs the tenant to verify against: the PAT's own tenant, when there is such a PAT.
      const { rows } = await store.db.query<{ tenant_id: string }>(
        "SELECT tenant_id FROM pats WHERE authorization_id = $1",
        [authorizationId],
      );
      const tenant = rows[0] ? await store.findTenant(rows[0].tenant_id) : null;
      const actor = await http.admin(request, tenant);
      const pat = await store.adminRevokePat({
        authorizationId,
        actor,
        reason: body?.reason,
        correlationId: correlationId(request),
        ipAddress: request.ip,
      });
      return { patToken: patTokenView(pat), patTokenError: "none" };
    },
  );
}
