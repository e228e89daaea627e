/**
 * The audit log API, shaped like Azure DevOps `/{organization}/_apis/audit/auditlog` and `.../downloadlog`
 * (json or csv of DecoratedAuditLogEntry records), plus patrol's hash-chained JSON-lines export and chain check.
 * Readers: a tenant administrator by admin key or OIDC, or by a PAT with `vso.auditlog` (HTTP Basic).
 */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { AUDIT_ACTIONS, type AuditEvent, encodeCursor } from "../audit.js";
import { invalid } from "../errors.js";
import { type IssuerHttpContext, parseRequest, routeDocs } from "./context.js";
import { apiVersionSchema, caseInsensitiveEnum, dateTimeField, queryBoolean, queryInteger } from "./wire.js";

const organizationParams = z.object({ organization: z.string().min(1).max(100) });
const tenantParams = z.object({ tenant: z.string().min(1).max(100) });
const BATCH_SIZE_MESSAGE = "batchSize must be a whole number from 1 to 1000";

const auditLogQuery = z.object({
  "api-version": apiVersionSchema.optional(),
  startTime: dateTimeField("startTime").optional(),
  endTime: dateTimeField("endTime").optional(),
  continuationToken: z.string().max(512).optional(),
  batchSize: queryInteger(1, 1000, BATCH_SIZE_MESSAGE).optional(),
  skipAggregation: queryBoolean("skipAggregation").optional(),
  /** patrol extension: only this action id. */
  actionId: caseInsensitiveEnum(Object.keys(AUDIT_ACTIONS) as [string, ...string[]], "actionId").optional(),
});

/** json and csv are Azure DevOps' formats; jsonl is patrol's export with the hash chain. */
const DOWNLOAD_FORMATS = ["json", "csv", "jsonl"] as const;
type DownloadFormat = (typeof DOWNLOAD_FORMATS)[number];

const downloadQuery = z.object({
  "api-version": apiVersionSchema.optional(),
  format: caseInsensitiveEnum(DOWNLOAD_FORMATS, "format"),
  startTime: dateTimeField("startTime").optional(),
  endTime: dateTimeField("endTime").optional(),
});
const exportQuery = downloadQuery.extend({ format: downloadQuery.shape.format.optional() });

function timeRange(query: { startTime?: Date; endTime?: Date }) {
  const { startTime, endTime } = query;
  if (startTime && endTime && startTime >= endTime) throw invalid("startTime must be before endTime");
  return { startTime, endTime };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const titleCase = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();

/**
 * The Azure DevOps DecoratedAuditLogEntry shape. Category in the spec's lower-case enum; an event of the whole
 * tenant (a tenant policy) has the `enterprise` scope, the spec's scope above organizations.
 */
export function auditEntryView(event: AuditEvent, tenantName: string) {
  const organizationScoped = event.organizationId !== null;
  return {
    id: event.id,
    // The spec types it as a GUID; ids stored before patrol minted GUIDs are not shown as one.
    correlationId:
      event.correlationId !== null && UUID.test(event.correlationId) ? event.correlationId : null,
    activityId: null,
    actorCUID: event.actorUserId,
    actorUserId: event.actorUserId,
    actorClientId: null,
    actorUPN: event.actorUpn,
    authenticationMechanism:
      event.actorKind === "user" ? "OIDC" : event.actorKind === "admin" ? "AdminApiKey" : "System",
    timestamp: event.timestamp.toISOString(),
    scopeType: organizationScoped ? "organization" : "enterprise",
    scopeDisplayName: organizationScoped
      ? `${event.organizationName} (Organization)`
      : `${tenantName} (Enterprise)`,
    scopeId: event.organizationId ?? event.tenantId,
    projectId: null,
    projectName: null,
    ipAddress: event.ipAddress,
    userAgent: null,
    actionId: event.actionId,
    data: event.data,
    details: event.details,
    area: event.area,
    category: event.category.toLowerCase(),
    categoryDisplayName: titleCase(event.category),
    actorDisplayName: event.actorDisplayName,
    actorImageUrl: null,
  };
}

type AuditEntryView = ReturnType<typeof auditEntryView>;

/** The CSV columns of Azure DevOps' audit download, in its order. */
const CSV_COLUMNS: [string, (e: AuditEntryView) => unknown][] = [
  ["Id", (e) => e.id],
  ["CorrelationId", (e) => e.correlationId],
  ["ActivityId", (e) => e.activityId],
  ["ActorCUID", (e) => e.actorCUID],
  ["ActorUserId", (e) => e.actorUserId],
  ["ActorUPN", (e) => e.actorUPN],
  ["AuthenticationMechanism", (e) => e.authenticationMechanism],
  ["Timestamp", (e) => e.timestamp],
  ["ScopeType", (e) => e.scopeType],
  ["ScopeDisplayName", (e) => e.scopeDisplayName],
  ["ScopeId", (e) => e.scopeId],
  ["ProjectId", (e) => e.projectId],
  ["ProjectName", (e) => e.projectName],
  ["IpAddress", (e) => e.ipAddress],
  ["UserAgent", (e) => e.userAgent],
  ["ActionId", (e) => e.actionId],
  ["Data", (e) => JSON.stringify(e.data)],
  ["Details", (e) => e.details],
  ["Area", (e) => e.area],
  ["Category", (e) => e.category],
  ["CategoryDisplayName", (e) => e.categoryDisplayName],
  ["ActorDisplayName", (e) => e.actorDisplayName],
];

/**
 * One RFC 4180 cell. Text that a spreadsheet would run as a formula (leading = + - @ or a control character)
 * gets a leading apostrophe: display names and details come from users.
 */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function* downloadBody(
  events: AsyncIterable<AuditEvent>,
  tenantName: string,
  format: "json" | "csv",
): AsyncGenerator<string> {
  if (format === "csv") {
    yield `${CSV_COLUMNS.map(([name]) => name).join(",")}\r\n`;
    for await (const event of events) {
      const entry = auditEntryView(event, tenantName);
      yield `${CSV_COLUMNS.map(([, cell]) => csvCell(cell(entry))).join(",")}\r\n`;
    }
    return;
  }
  let first = true;
  yield "[";
  for await (const event of events) {
    yield `${first ? "" : ","}\n${JSON.stringify(auditEntryView(event, tenantName))}`;
    first = false;
  }
  yield "\n]\n";
}

/** JSON lines parsed back into events, for the json and csv views of the export stream. */
async function* parsedEvents(lines: AsyncIterable<string>): AsyncGenerator<AuditEvent> {
  for await (const line of lines) {
    const event = JSON.parse(line) as AuditEvent & { timestamp: string };
    yield { ...event, timestamp: new Date(event.timestamp) };
  }
}

function sendDownload(
  reply: FastifyReply,
  lines: AsyncIterable<string>,
  format: DownloadFormat,
  tenantName: string,
  fileStem: string,
): FastifyReply {
  if (format === "jsonl") return reply.type("application/x-ndjson").send(Readable.from(lines));
  const type = format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
  return reply
    .type(type)
    .header("content-disposition", `attachment; filename="${fileStem}.${format}"`)
    .send(Readable.from(downloadBody(parsedEvents(lines), tenantName, format)));
}

export function registerAuditRoutes(app: FastifyInstance, http: IssuerHttpContext): void {
  const security: ("oidc" | "adminKey" | "adminKeyHeader" | "basic")[] = [
    "basic",
    "oidc",
    "adminKey",
    "adminKeyHeader",
  ];

  app.get(
    "/:organization/_apis/audit/auditlog",
    {
      schema: routeDocs({
        operationId: "Audit Log_Query",
        summary: "Query the audit log (newest first, paged); a PAT needs vso.auditlog",
        tags: ["Audit"],
        params: organizationParams,
        querystring: auditLogQuery,
        response: { 200: { description: "{decoratedAuditLogEntries, continuationToken, hasMore}" } },
        security,
      }),
    },
    async (request, reply) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      const query = parseRequest(auditLogQuery, request.query, "query");
      const reader = await http.auditReader(request, reply, orgName);
      if (reader === null) return reply;
      const { organization, tenant } = reader;
      const page = await http.store.queryAuditLog({
        tenantId: tenant.id,
        organizationId: organization.id,
        ...timeRange(query),
        actionId: query.actionId,
        batchSize: query.batchSize,
        continuationToken: query.continuationToken,
      });
      const last = page.entries[page.entries.length - 1];
      return {
        decoratedAuditLogEntries: page.entries.map((e) => auditEntryView(e, tenant.name)),
        // As in Azure DevOps' example, the token names the position after the last entry even on the last
        // page (hasMore says whether to go on); a page with no entries hands back the token it was given.
        continuationToken: last ? encodeCursor(last.seq) : (query.continuationToken ?? ""),
        hasMore: page.hasMore,
      };
    },
  );

  app.get(
    "/:organization/_apis/audit/downloadlog",
    {
      schema: routeDocs({
        operationId: "Download Log_Download Log",
        summary:
          "Download the organization's audit log: json or csv of DecoratedAuditLogEntry (Azure DevOps), or " +
          "jsonl (patrol: oldest first, with the hash chain)",
        tags: ["Audit"],
        params: organizationParams,
        querystring: downloadQuery,
        response: { 200: { description: "application/json, text/csv or application/x-ndjson" } },
        security,
      }),
    },
    async (request, reply) => {
      const { organization: orgName } = parseRequest(organizationParams, request.params, "path");
      const query = parseRequest(downloadQuery, request.query, "query");
      const reader = await http.auditReader(request, reply, orgName);
      if (reader === null) return reply;
      const { organization, tenant } = reader;
      const lines = http.store.exportAuditLog(tenant.id, {
        organizationId: organization.id,
        ...timeRange(query),
      });
      return sendDownload(reply, lines, query.format, tenant.name, `audit-log-${organization.name}`);
    },
  );

  const adminSecurity: ("oidc" | "adminKey" | "adminKeyHeader")[] = ["oidc", "adminKey", "adminKeyHeader"];

  app.get(
    "/_apis/patrol/tenants/:tenant/audit/export",
    {
      schema: routeDocs({
        operationId: "TenantAudit_Export",
        summary: "Export the tenant's whole audit log (jsonl by default; json or csv as downloadlog)",
        tags: ["Audit", "Administration"],
        params: tenantParams,
        querystring: exportQuery,
        response: { 200: { description: "application/x-ndjson, one event per line" } },
        security: adminSecurity,
      }),
    },
    async (request, reply) => {
      const params = parseRequest(tenantParams, request.params, "path");
      const query = parseRequest(exportQuery, request.query, "query");
      const { tenant } = await http.tenantAdmin(request, params.tenant);
      const lines = http.store.exportAuditLog(tenant.id, timeRange(query));
      return sendDownload(reply, lines, query.format ?? "jsonl", tenant.name, `audit-log-${tenant.name}`);
    },
  );

  app.get(
    "/_apis/patrol/tenants/:tenant/audit/verify",
    {
      schema: routeDocs({
        operationId: "TenantAudit_Verify",
        summary: "Check the tenant's audit hash chain and report the first broken link",
        tags: ["Audit", "Administration"],
        params: tenantParams,
        response: { 200: { description: "{ok, checked, lastSeq} or {ok: false, checked, brokenAt}" } },
        security: adminSecurity,
      }),
    },
    async (request) => {
      const params = parseRequest(tenantParams, request.params, "path");
      const { tenant } = await http.tenantAdmin(request, params.tenant);
      return http.store.verifyAuditChain(tenant.id);
    },
  );
}
