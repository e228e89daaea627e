/**
 * The PAT lifecycle API, shaped like Azure DevOps `/{organization}/_apis/tokens/pats?api-version=7.1-preview.1`.
 * Callers authenticate with an OIDC bearer token or the admin API key, never with a PAT.
 */
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { emailSchema } from "../directory.js";
import type { PatTokenError } from "../errors.js";
import type { Pat } from "../model.js";
import { MAX_PAGE_SIZE, TOP_RANGE_MESSAGE } from "../pats.js";
import { type IssuerHttpContext, parseRequest, routeDocs } from "./context.js";
import { apiVersionSchema, caseInsensitiveEnum, dateTimeField, queryBoolean, queryInteger } from "./wire.js";

const organizationParams = z.object({ organization: z.string().min(1).max(100) });

const FIELD_ERRORS: Record<string, PatTokenError> = {
  displayName: "invalidDisplayName",
  scope: "invalidScope",
  validTo: "invalidValidTo",
  allOrgs: "invalidTargetAccounts",
  authorizationId: "invalidAuthorizationId",
  regenerate: "invalidToken",
};

const validToSchema = dateTimeField("validTo", "invalidValidTo");

const createBody = z.object({
  displayName: z.string({ error: "displayName must be a string" }).optional(),
  scope: z.string({ error: "scope must be a string of space-separated scopes" }),
  validTo: validToSchema.nullable().optional(),
  allOrgs: z.boolean({ error: "allOrgs must be true or false" }).optional(),
});

const updateBody = z.object({
  authorizationId: z.uuid({ error: "authorizationId must be a GUID" }),
  displayName: z.string({ error: "displayName must be a string" }).optional(),
  scope: z.string({ error: "scope must be a string of space-separated scopes" }).optional(),
  validTo: validToSchema.nullable().optional(),
  allOrgs: z.boolean({ error: "allOrgs must be true or false" }).optional(),
  /** patrol extension: mint a new secret for the same authorization id. */
  regenerate: z.boolean({ error: "regenerate must be true or false" }).optional(),
});

const listQuery = z.object({
  "api-version": apiVersionSchema,
  authorizationId: z.uuid({ error: "authorizationId must be a GUID" }).optional(),
  displayFilterOption: caseInsensitiveEnum(
    ["active", "revoked", "expired", "all"],
    "displayFilterOption",
  ).optional(),
  sortByOption: caseInsensitiveEnum(["displayName", "displayDate", "status"], "sortByOption").optional(),
  isSortAscending: queryBoolean("isSortAscending").optional(),
  continuationToken: z.string().max(2048).optional(),
  $top: queryInteger(1, MAX_PAGE_SIZE, TOP_RANGE_MESSAGE).optional(),
  /** patrol extension for administrators: another user's PATs. */
  user: emailSchema.optional(),
});

const createQuery = z.object({
  "api-version": apiVersionSchema,
  /** patrol extension for administrators: the user the PAT is for. */
  user: emailSchema.optional(),
});

const versionQuery = z.object({ "api-version": apiVersionSchema });
const deleteQuery = z.object({
  "api-version": apiVersionSchema,
  authorizationId: z.uuid({ error: "authorizationId must be a GUID" }),
});

const patTokenSchema = z.object({
  authorizationId: z.uuid(),
  displayName: z.string(),
  scope: z.string(),
  targetAccounts: z.array(z.uuid()).nullable(),
  validFrom: z.iso.datetime(),
  validTo: z.iso.datetime(),
  token: z.string().nullable(),
});
const PAT_TOKEN_ERRORS = [
  "none",
  "displayNameRequired",
  "invalidDisplayName",
  "invalidValidTo",
  "invalidScope",
  "invalidUserId",
  "accessDenied",
  "invalidTargetAccounts",
  "authorizationNotFound",
  "invalidToken",
  "invalidAuthorizationId",
  "globalPatPolicyViolation",
  "fullScopePatPolicyViolation",
  "patLifespanPolicyViolation",
  "disablePatCreationPolicyViolation",
  "expiredPatCannotBeExtended",
] as const satisfies readonly PatTokenError[];
const patTokenResultSchema = z.object({
  patToken: patTokenSchema,
  patTokenError: z
    .enum(PAT_TOKEN_ERRORS)
    .describe("SessionTokenError; the last two only for api-version 7.2"),
});
const pagedPatTokensSchema = z.object({
  continuationToken: z.string().describe("Empty when there are no more pages"),
  patTokens: z.array(patTokenSchema),
});

/** The Azure DevOps PatToken shape. `token` is set only in the answer that created or regenerated it. */
export function patTokenView(pat: Pat, token: string | null = null) {
  return {
    authorizationId: pat.authorizationId,
    displayName: pat.displayName,
    scope: pat.scope,
    targetAccounts: pat.allOrgs ? null : [pat.organizationId],
    validFrom: pat.validFrom.toISOString(),
    validTo: pat.validTo.toISOString(),
    token,
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The caller's correlation id (Azure DevOps clients send X-TFS-Session, a GUID), only when it is a GUID: it
 * goes into the audit log, so anything else is replaced by a freshly minted GUID (one per request).
 */
export const correlationId = (request: FastifyRequest) => {
  const header = request.headers["x-tfs-session"] ?? request.headers["x-correlation-id"];
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && GUID.test(value)) return value.toLowerCase();
  const minted = request as FastifyRequest & { patrolCorrelationId?: string };
  minted.patrolCorrelationId ??= randomUUID();
  return minted.patrolCorrelationId;
};

export function registerPatRoutes(app: FastifyInstance, http: IssuerHttpContext): void {
  const url = "/:organization/_apis/tokens/pats";
  const security: ("oidc" | "adminKey" | "adminKeyHeader")[] = ["oidc", "adminKey", "adminKeyHeader"];

  app.post(
    url,
    {
      schema: routeDocs({
        operationId: "Pats_Create",
        summary: "Create a PAT (the token appears only in this answer)",
        tags: ["PATs"],
        params: organizationParams,
        querystring: createQuery,
        body: createBody,
        response: { 200: patTokenResultSchema },
        security,
      }),
    },
    async (request) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      const query = parseRequest(createQuery, request.query, "query");
      const { organization, actor } = await http.organizationCaller(request, orgName);
      const body = parseRequest(createBody, request.body, "body", FIELD_ERRORS);
      const { pat, token } = await http.store.createPat({
        organization: organization.name,
        owner: query.user,
        displayName: body.displayName,
        scope: body.scope,
        validTo: body.validTo,
        allOrgs: body.allOrgs,
        actor,
        correlationId: correlationId(request),
        ipAddress: request.ip,
      });
      return { patToken: patTokenView(pat, token), patTokenError: "none" };
    },
  );

  app.get(
    url,
    {
      schema: routeDocs({
        operationId: "Pats_List",
        summary: "List the caller's PATs (paged), or get one with ?authorizationId=",
        tags: ["PATs"],
        params: organizationParams,
        querystring: listQuery,
        response: { 200: z.union([pagedPatTokensSchema, patTokenResultSchema]) },
        security,
      }),
    },
    async (request) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      const query = parseRequest(listQuery, request.query, "query", FIELD_ERRORS);
      const { organization, actor } = await http.organizationCaller(request, orgName);
      if (query.authorizationId) {
        const pat = await http.store.getPat({
          organization: organization.name,
          authorizationId: query.authorizationId,
          actor,
        });
        return { patToken: patTokenView(pat), patTokenError: "none" };
      }
      const page = await http.store.listPats({
        organization: organization.name,
        actor,
        owner: query.user,
        filter: query.displayFilterOption,
        sortBy: query.sortByOption,
        ascending: query.isSortAscending,
        top: query.$top,
        continuationToken: query.continuationToken,
      });
      // The last page carries an empty continuation token, as Azure DevOps' own example shows.
      return {
        continuationToken: page.continuationToken ?? "",
        patTokens: page.pats.map((p) => patTokenView(p)),
      };
    },
  );

  app.put(
    url,
    {
      schema: routeDocs({
        operationId: "Pats_Update",
        summary:
          "Update a PAT: rename, rescope, renew validTo, widen or narrow to all organizations, regenerate",
        tags: ["PATs"],
        params: organizationParams,
        querystring: versionQuery,
        body: updateBody,
        response: { 200: patTokenResultSchema },
        security,
      }),
    },
    async (request) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      parseRequest(versionQuery, request.query, "query");
      const { organization, actor } = await http.organizationCaller(request, orgName);
      const body = parseRequest(updateBody, request.body, "body", FIELD_ERRORS);
      const { pat, token } = await http.store.updatePat({
        organization: organization.name,
        authorizationId: body.authorizationId,
        displayName: body.displayName,
        scope: body.scope,
        validTo: body.validTo,
        allOrgs: body.allOrgs,
        regenerate: body.regenerate,
        actor,
        correlationId: correlationId(request),
        ipAddress: request.ip,
      });
      return { patToken: patTokenView(pat, token), patTokenError: "none" };
    },
  );

  app.delete(
    url,
    {
      schema: routeDocs({
        operationId: "Pats_Revoke",
        summary: "Revoke a PAT (its owner, or an administrator for anyone's)",
        tags: ["PATs"],
        params: organizationParams,
        querystring: deleteQuery,
        response: { 200: { description: "Revoked (empty body)" } },
        security,
      }),
    },
    async (request, reply) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      const query = parseRequest(deleteQuery, request.query, "query", FIELD_ERRORS);
      const { organization, actor } = await http.organizationCaller(request, orgName);
      await http.store.revokePat({
        organization: organization.name,
        authorizationId: query.authorizationId,
        actor,
        correlationId: correlationId(request),
        ipAddress: request.ip,
      });
      return reply.code(200).send();
    },
  );
}
