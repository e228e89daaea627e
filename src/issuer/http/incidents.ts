/**
 * patrol's incidents API for the security team (a patrol extension, not Azure DevOps'): one incident per leaked
 * token, with every location seen, what was done and when, and how the owner's notice went. Never a token:
 * the store has none. The admin key sees every tenant; a tenant's administrators see their tenant.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { forbidden, notFound } from "../errors.js";
import type { IncidentAction, LeakIncident } from "../leaks.js";
import type { Actor } from "../model.js";
import { type IssuerHttpContext, parseRequest, routeDocs } from "./context.js";

const STATES = [
  "pending",
  "revoked",
  "notRevokedPolicyOff",
  "notRevokedExempt",
  "alreadyInactive",
  "notFound",
] as const satisfies readonly IncidentAction[];

const dateTime = z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with a time zone" });

const listQuery = z.object({
  tenant: z.string().min(1).max(100).optional(),
  state: z.enum(STATES).optional(),
  since: dateTime.optional(),
  until: dateTime.optional(),
  $top: z
    .string()
    .regex(/^\d{1,3}$/, "must be a number from 1 to 500")
    .optional(),
  continuationToken: z.string().max(512).optional(),
});

const idParams = z.object({ id: z.uuid({ error: "must be an incident id (a GUID)" }) });

export function incidentView(incident: LeakIncident) {
  return {
    id: incident.id,
    fingerprint: incident.fingerprint,
    format: incident.format,
    redacted: incident.redacted,
    authorizationId: incident.authorizationId,
    tenantId: incident.tenantId,
    firstSeenAt: incident.firstSeenAt.toISOString(),
    lastSeenAt: incident.lastSeenAt.toISOString(),
    state: incident.action,
    stateChangedAt: incident.actionAt?.toISOString() ?? null,
    mail: {
      status: incident.mailedAt ? "sent" : incident.mail.lastError ? "retrying" : "pending",
      sentAt: incident.mailedAt?.toISOString() ?? null,
      attempts: incident.mail.attempts,
      lastError: incident.mail.lastError,
      lastAttemptAt: incident.mail.lastAttemptAt?.toISOString() ?? null,
    },
    locationCount: incident.locations.length,
    locations: incident.locations.map((l) => ({
      repository: l.repository,
      commit: l.commit,
      path: l.path,
      line: l.line,
      permalink: l.url,
      source: l.source,
      seenAt: l.seenAt.toISOString(),
    })),
  };
}

/** The tenants the caller may see: all (admin key), or the one they administer. */
async function visibleTenant(
  http: IssuerHttpContext,
  request: FastifyRequest,
  tenantName: string | undefined,
): Promise<{ actor: Actor; tenantId: string | undefined }> {
  if (tenantName) {
    // Unknown tenants answer as known ones do (only the admin key learns 404).
    const { tenant, actor } = await http.tenantAdmin(request, tenantName);
    return { actor, tenantId: tenant.id };
  }
  const actor = await http.caller(request, null);
  if (actor.kind === "admin") return { actor, tenantId: undefined };
  if (actor.kind === "user" && actor.user.role === "admin") return { actor, tenantId: actor.user.tenantId };
  throw forbidden("incidents are for the tenant's administrators", "accessDenied");
}

export function registerIncidentRoutes(app: FastifyInstance, http: IssuerHttpContext): void {
  app.get(
    "/_apis/patrol/incidents",
    {
      schema: routeDocs({
        operationId: "Incidents_List",
        summary: "List leak incidents, newest first (patrol extension)",
        tags: ["Incidents"],
        querystring: listQuery,
        security: ["oidc", "adminKey", "adminKeyHeader"],
      }),
    },
    async (request) => {
      const query = parseRequest(listQuery, request.query, "query");
      const { tenantId } = await visibleTenant(http, request, query.tenant);
      const page = await http.store.listIncidents({
        tenantId,
        action: query.state,
        since: query.since ? new Date(query.since) : undefined,
        until: query.until ? new Date(query.until) : undefined,
        top: query.$top ? Number(query.$top) : undefined,
        continuationToken: query.continuationToken,
      });
      return {
        count: page.incidents.length,
        value: page.incidents.map(incidentView),
        continuationToken: page.continuationToken,
      };
    },
  );

  app.get(
    "/_apis/patrol/incidents/:id",
    {
      schema: routeDocs({
        operationId: "Incidents_Get",
        summary: "One leak incident with every location (patrol extension)",
        tags: ["Incidents"],
        params: idParams,
        security: ["oidc", "adminKey", "adminKeyHeader"],
      }),
    },
    async (request) => {
      const { id } = parseRequest(idParams, request.params, "path");
      const { tenantId } = await visibleTenant(http, request, undefined);
      const incident = await http.store.getIncidentById(id);
      // Another tenant's incident reads as absent: its existence is not this caller's to learn.
      if (!incident || (tenantId !== undefined && incident.tenantId !== tenantId))
        throw notFound(`no incident ${id}`);
      return incidentView(incident);
    },
  );
}
