/** The audit log API, shaped like Azure DevOps `/{organization}/_apis/audit/auditlog`, and its JSON-lines export. */
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { AUDIT_ACTIONS, type AuditEvent } from "../audit.js";
import { invalid } from "../errors.js";
import { apiVersionSchema, type IssuerHttpContext, parseRequest, routeDocs } from "./context.js";

const organizationParams = z.object({ organization: z.string().min(1).max(100) });
const tenantParams = z.object({ tenant: z.string().min(1).max(100) });
const dateTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with a time zone" });

const auditLogQuery = z.object({
  "api-version": apiVersionSchema.optional(),
  startTime: dateTime.optional(),
  endTime: dateTime.optional(),
  continuationToken: z.string().max(512).optional(),
  batchSize: z
    .string()
    .regex(/^\d{1,4}$/, "batchSize must be a number from 1 to 1000")
    .optional(),
  skipAggregation: z.enum(["true", "false"]).optional(),
  /** patrol extension: only this action id. */
  actionId: z.enum(Object.keys(AUDIT_ACTIONS) as [string, ...string[]]).optional(),
});

const downloadQuery = z.object({
  "api-version": apiVersionSchema.optional(),
  format: z.enum(["jsonl"], { error: "format must be jsonl (JSON lines)" }).optional(),
  startTime: dateTime.optional(),
  endTime: dateTime.optional(),
});

function timeRange(query: { startTime?: string; endTime?: string }) {
  const startTime = query.startTime ? new Date(query.startTime) : undefined;
  const endTime = query.endTime ? new Date(query.endTime) : undefined;
  if (startTime && endTime && startTime >= endTime) throw invalid("startTime must be before endTime");
  return { startTime, endTime };
}

/** The Azure DevOps DecoratedAuditLogEntry shape. */
export function auditEntryView(event: AuditEvent, tenantName: string) {
  return {
    id: event.id,
    correlationId: event.correlationId,
    activityId: null,
    actorCUID: event.actorUserId,
    actorUserId: event.actorUserId,
    actorClientId: null,
    actorUPN: event.actorUpn,
    authenticationMechanism:
      event.actorKind === "user" ? "OIDC" : event.actorKind === "admin" ? "AdminApiKey" : "System",
    timestamp: event.timestamp.toISOString(),
    scopeType: event.organizationId ? "organization" : "tenant",
    scopeDisplayName: event.organizationName ?? tenantName,
    scopeId: event.organizationId ?? event.tenantId,
    projectId: null,
    projectName: null,
    ipAddress: event.ipAddress,
    userAgent: null,
    actionId: event.actionId,
    data: event.data,
    details: event.details,
    area: event.area,
    category: event.category,
    categoryDisplayName: event.category,
    actorDisplayName: event.actorDisplayName,
    actorImageUrl: null,
  };
}

export function registerAuditRoutes(app: FastifyInstance, http: IssuerHttpContext): void {
  const security: ("oidc" | "adminKey" | "adminKeyHeader")[] = ["oidc", "adminKey", "adminKeyHeader"];

  app.get(
    "/:organization/_apis/audit/auditlog",
    {
      schema: routeDocs({
        summary: "Query the audit log (newest first, paged)",
        tags: ["Audit"],
        params: organizationParams,
        querystring: auditLogQuery,
        response: { 200: { description: "{decoratedAuditLogEntries, continuationToken, hasMore}" } },
        security,
      }),
    },
    async (request) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      const query = parseRequest(auditLogQuery, request.query, "query");
      const organization = await http.organization(orgName);
      const tenant = await http.tenant(organization.tenantId);
      await http.admin(request, tenant);
      const batchSize = query.batchSize === undefined ? undefined : Number(query.batchSize);
      if (batchSize !== undefined && (batchSize < 1 || batchSize > 1000)) {
        throw invalid("batchSize must be a number from 1 to 1000");
      }
      const page = await http.store.queryAuditLog({
        tenantId: tenant.id,
        organizationId: organization.id,
        ...timeRange(query),
        actionId: query.actionId,
        batchSize,
        continuationToken: query.continuationToken,
      });
      return {
        decoratedAuditLogEntries: page.entries.map((e) => auditEntryView(e, tenant.name)),
        continuationToken: page.continuationToken,
        hasMore: page.hasMore,
      };
    },
  );

  app.get(
    "/:organization/_apis/audit/downloadlog",
    {
      schema: routeDocs({
        summary: "Export the organization's audit log as JSON lines (oldest first, with the hash chain)",
        tags: ["Audit"],
        params: organizationParams,
        querystring: downloadQuery,
        response: { 200: { description: "application/x-ndjson, one event per line" } },
        security,
      }),
    },
    async (request, reply) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      const query = parseRequest(downloadQuery, request.query, "query");
      const organization = await http.organization(orgName);
      const tenant = await http.tenant(organization.tenantId);
      await http.admin(request, tenant);
      const lines = http.store.exportAuditLog(tenant.id, {
        organizationId: organization.id,
        ...timeRange(query),
      });
      return reply.type("application/x-ndjson").send(Readable.from(lines));
    },
  );

  app.get(
    "/_apis/patrol/tenants/:tenant/audit/export",
    {
      schema: routeDocs({
        summary: "Export the tenant's whole audit log as JSON lines",
        tags: ["Audit", "Administration"],
        params: tenantParams,
        querystring: downloadQuery,
        response: { 200: { description: "application/x-ndjson, one event per line" } },
        security,
      }),
    },
    async (request, reply) => {
      const params = parseRequest(tenantParams, request.params, "path");
      const query = parseRequest(downloadQuery, request.query, "query");
      const tenant = await http.tenant(params.tenant);
      await http.admin(request, tenant);
      const lines = http.store.exportAuditLog(tenant.id, timeRange(query));
      return reply.type("application/x-ndjson").send(Readable.from(lines));
    },
  );

  app.get(
    "/_apis/patrol/tenants/:tenant/audit/verify",
    {
      schema: routeDocs({
        summary: "Check the tenant's audit hash chain and report the first broken link",
        tags: ["Audit", "Administration"],
        params: tenantParams,
        response: { 200: { description: "{ok, checked, lastSeq} or {ok: false, checked, brokenAt}" } },
        security,
      }),
    },
    async (request) => {
      const params = parseRequest(tenantParams, request.params, "path");
      const tenant = await http.tenant(params.tenant);
      await http.admin(request, tenant);
      return http.store.verifyAuditChain(tenant.id);
    },
  );
}
