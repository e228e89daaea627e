/** What every issuer route shares: the store, caller authentication with throttling, and request parsing. */
import { randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest, FastifySchema } from "fastify";
import type { Logger } from "pino";
import { z } from "zod";
import type { Config } from "../../config.js";
import type { PatIdentity } from "../auth.js";
import { ADMIN_KEY_HEADER, CallerAuthenticator } from "../callers.js";
import { findOrganization, findTenant } from "../directory.js";
import { forbidden, IssuerError, invalid, notFound, type PatTokenError, unauthenticated } from "../errors.js";
import type { Actor, Organization, Tenant } from "../model.js";
import { grantsScope } from "../scopes.js";
import type { IssuerStore } from "../store.js";
import { FailedAttemptThrottle } from "../throttle.js";
import { errorBody } from "./error-body.js";
import type { HistoryScanStarter } from "./history-scans.js";
import { canonicalKeys, type OpenApiShape } from "./wire.js";

export { apiVersionSchema } from "./wire.js";

export interface IssuerRoutesOptions {
  store: IssuerStore;
  config: Pick<Config, "auth">;
  logger: Logger;
  /** Serve the OpenAPI document at /_apis/openapi.json (default true). */
  openapi?: boolean;
  /** Starts whole-history scans for `POST /_apis/patrol/history-scans`; null/absent: no GitHub App (503). */
  historyScans?: HistoryScanStarter | null;
}

/** Thrown when a client is over its failed-authentication limit; answered with 429 and Retry-After. */
export class TooManyFailedAttempts extends Error {
  override name = "TooManyFailedAttempts";
  constructor(readonly retryAfterSeconds: number) {
    super("too many failed authentication attempts; try again later");
  }
}

/** The password of an HTTP Basic header, or null when the header is absent or not Basic. */
export function basicPassword(header: string | undefined): string | null {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? "");
  if (!match) return null;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? decoded : decoded.slice(colon + 1);
}

const isBasic = (header: string | undefined) => /^\s*basic(\s|$)/i.test(header ?? "");

/**
 * What a rejected sign-in token is told, whatever the reason (the reason goes to the log). One text for every
 * case, so an unknown organization answers exactly as a known one: names cannot be probed.
 */
const REJECTED_TOKEN_MESSAGE = "the bearer token was rejected: sign in again with your identity provider";
const NOT_A_USER_MESSAGE = "you are not a user of this organization's tenant";

const isJwtBearer = (header: string | undefined) =>
  /^\s*bearer\s+[^.\s]+\.[^.\s]+\.[^.\s]+\s*$/i.test(header ?? "");

/** The tenant an unknown organization is checked against: the service's OIDC defaults, and no users. */
function nobodysTenant(): Tenant {
  return {
    id: randomUUID(),
    name: "",
    oidc: { issuer: undefined, audience: undefined, jwksUrl: undefined },
    policies: {
      autoRevokeLeakedPats: true,
      restrictGlobalPats: false,
      restrictFullScopePats: false,
      maxPatLifespanDays: null,
    },
    createdAt: new Date(0),
  };
}

export class IssuerHttpContext {
  readonly store: IssuerStore;
  readonly logger: Logger;
  /** Failed PAT (HTTP Basic) attempts per client. */
  readonly patThrottle: FailedAttemptThrottle;
  /** Failed admin-key and OIDC attempts per client, counted apart so bad PATs cannot lock administrators out. */
  readonly callerThrottle: FailedAttemptThrottle;
  private readonly callers: CallerAuthenticator;

  constructor(options: IssuerRoutesOptions) {
    this.store = options.store;
    this.logger = options.logger;
    const { failureLimit, failureWindowSeconds } = options.config.auth;
    this.patThrottle = new FailedAttemptThrottle(failureLimit, failureWindowSeconds);
    this.callerThrottle = new FailedAttemptThrottle(failureLimit, failureWindowSeconds);
    this.callers = new CallerAuthenticator(options.store.ctx, options.config.auth.adminKey);
  }

  /** Refuses clients over a failed-attempt limit before any credential is checked. */
  checkThrottle(request: FastifyRequest, throttle: FailedAttemptThrottle): void {
    const retryAfter = throttle.retryAfterSeconds(request.ip);
    if (retryAfter > 0) throw new TooManyFailedAttempts(retryAfter);
  }

  /** The caller (admin key or OIDC user); `tenant` is the tenant the request concerns, when there is one. */
  async caller(request: FastifyRequest, tenant: Tenant | null): Promise<Actor> {
    this.checkThrottle(request, this.callerThrottle);
    const adminKey = request.headers[ADMIN_KEY_HEADER];
    try {
      return await this.callers.authenticate(
        {
          authorization: request.headers.authorization,
          adminKey: Array.isArray(adminKey) ? adminKey[0] : adminKey,
        },
        tenant,
      );
    } catch (error) {
      // A PAT sent here is refused whatever it is: that is not a guess at the admin key or a sign-in.
      const guessed = adminKey !== undefined || !isBasic(request.headers.authorization);
      if (!(error instanceof IssuerError)) throw error;
      if (error.kind === "unauthenticated" && guessed) this.callerThrottle.recordFailure(request.ip);
      if (adminKey === undefined && isJwtBearer(request.headers.authorization)) {
        request.log.info({ reason: error.message }, "sign-in token refused");
        if (error.kind === "unauthenticated") throw unauthenticated(REJECTED_TOKEN_MESSAGE);
        if (error.kind === "forbidden" && /^you are not a user/.test(error.message))
          throw forbidden(NOT_A_USER_MESSAGE, "accessDenied");
      }
      throw error;
    }
  }

  /** The caller, who must administer `tenant` (the admin key, or a user with the admin role in that tenant). */
  async admin(request: FastifyRequest, tenant: Tenant | null): Promise<Actor> {
    const actor = await this.caller(request, tenant);
    return requireTenantAdmin(actor, tenant);
  }

  /**
   * The organization named in a URL and the authenticated caller. An unknown organization answers exactly as a
   * known one would before authentication (401 without valid credentials); only the admin key learns 404.
   */
  async organizationCaller(
    request: FastifyRequest,
    name: string,
  ): Promise<{ organization: Organization; tenant: Tenant; actor: Actor }> {
    const organization = await findOrganization(this.store.db, name);
    const tenant = organization ? await findTenant(this.store.db, organization.tenantId) : null;
    if (!organization || !tenant) {
      await this.unknownTarget(request);
      throw notFound(`organization ${JSON.stringify(name.slice(0, 64))} does not exist`);
    }
    return { organization, tenant, actor: await this.caller(request, tenant) };
  }

  /** The tenant named in a URL (name or id) and its administrator; unknown tenants answer as organizations do. */
  async tenantAdmin(request: FastifyRequest, nameOrId: string): Promise<{ tenant: Tenant; actor: Actor }> {
    const tenant = await findTenant(this.store.db, nameOrId);
    if (!tenant) {
      await this.unknownTarget(request);
      throw notFound(`tenant ${JSON.stringify(nameOrId.slice(0, 64))} does not exist`);
    }
    return { tenant, actor: await this.admin(request, tenant) };
  }

  /**
   * Authentication for a target that does not exist: returns for the admin key (who then learns 404); anyone
   * else gets what a known target with no such user would answer. A sign-in token is checked against the
   * service's OIDC defaults, so a valid one is told 403 exactly as in a tenant it does not belong to.
   */
  private async unknownTarget(request: FastifyRequest): Promise<void> {
    const jwt = isJwtBearer(request.headers.authorization) && request.headers[ADMIN_KEY_HEADER] === undefined;
    const actor = await this.caller(request, jwt ? nobodysTenant() : null);
    if (actor.kind !== "admin") throw forbidden(NOT_A_USER_MESSAGE, "accessDenied");
  }

  /**
   * The reader of an organization's audit log: an administrator by admin key or OIDC, or (as Azure DevOps'
   * audit API allows) a PAT of a tenant administrator that holds `vso.auditlog`, sent as HTTP Basic.
   */
  async auditReader(
    request: FastifyRequest,
    reply: FastifyReply,
    name: string,
  ): Promise<{ organization: Organization; tenant: Tenant; actor: Actor } | null> {
    if (!isBasic(request.headers.authorization)) {
      const target = await this.organizationCaller(request, name);
      return { ...target, actor: requireTenantAdmin(target.actor, target.tenant) };
    }
    const identity = await this.patIdentity(request, reply, name);
    if (identity === null) return null;
    const { organization: org } = identity;
    const organization = org ? await findOrganization(this.store.db, org.name) : null;
    const tenant = organization ? await findTenant(this.store.db, organization.tenantId) : null;
    if (!organization || !tenant) throw notFound("the organization does not exist");
    if (!grantsScope(identity.pat.scope, "vso.auditlog")) {
      throw forbidden("this PAT does not have the vso.auditlog scope the audit log needs", "accessDenied");
    }
    const actor: Actor = { kind: "user", user: identity.user };
    return { organization, tenant, actor: requireTenantAdmin(actor, tenant) };
  }

  /**
   * Checks the PAT of an HTTP Basic request for `organization` (or none). On failure it has already answered
   * 401 with a Basic challenge and returns null; the reason goes to the log only.
   */
  async patIdentity(
    request: FastifyRequest,
    reply: FastifyReply,
    organization: string | undefined,
  ): Promise<PatIdentity | null> {
    this.checkThrottle(request, this.patThrottle);
    const token = basicPassword(request.headers.authorization);
    if (token === null) {
      challengeBasic(reply, "send a PAT as the password of HTTP Basic authentication");
      return null;
    }
    const result = await this.store.authenticatePat(token, { organization });
    if (!result.ok) {
      this.patThrottle.recordFailure(request.ip);
      request.log.info({ reason: result.reason, organization }, "PAT authentication failed");
      challengeBasic(reply, "the PAT is not valid here");
      return null;
    }
    return result.identity;
  }
}

/** The actor, when it administers `tenant` (the admin key, or a user with the admin role there); else 403. */
export function requireTenantAdmin(actor: Actor, tenant: Tenant | null): Actor {
  if (actor.kind === "admin") return actor;
  if (
    actor.kind === "user" &&
    actor.user.role === "admin" &&
    tenant !== null &&
    actor.user.tenantId === tenant.id
  )
    return actor;
  throw forbidden("this needs an administrator of the tenant", "accessDenied");
}

/**
 * Parses a request part with zod. Property and parameter names match without regard to case, as Azure DevOps
 * matches them. The first problem becomes a 400 naming the field; `errorsByField` maps a top-level field to the
 * Azure DevOps patTokenError that Azure DevOps answers for it.
 */
export function parseRequest<T>(
  schema: z.ZodType<T>,
  value: unknown,
  part: "body" | "query" | "path",
  errorsByField: Record<string, PatTokenError> = {},
): T {
  const shape = objectShape(schema);
  const input = shape ? canonicalKeys(value, Object.keys(shape), `the request ${part}`) : value;
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === "unrecognized_keys") {
    const where = issue.path.length ? ` ${issue.path.map(String).join(".")}` : "";
    const keys = issue.keys.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 64)));
    throw invalid(
      `the request ${part}${where} has unknown field${keys.length > 1 ? "s" : ""} ${keys.join(", ")}` +
        (shape ? `; known: ${Object.keys(shape).join(", ")}` : ""),
    );
  }
  if (issue.path.length === 0) {
    throw invalid(
      part === "body"
        ? `the request body must be a JSON object (${issue.message})`
        : `invalid ${part}: ${issue.message}`,
    );
  }
  const field = String(issue.path[0]);
  const where = issue.path.map(String).join(".");
  // Messages that already name their field (dates, api-version) are not prefixed twice.
  const message = issue.message.startsWith(field)
    ? issue.message
    : `${part} field ${where}: ${issue.message}`;
  throw invalid(message, errorsByField[field]);
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | null {
  let inner: z.ZodType = schema;
  // Optional bodies wrap the object.
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable)
    inner = inner.unwrap() as z.ZodType;
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>) : null;
}

export type OperationSecurity = "oidc" | "adminKey" | "adminKeyHeader" | "basic";

/** Route documentation for the OpenAPI document, built from the same zod schemas that validate requests. */
export function routeDocs(doc: {
  operationId: string;
  summary: string;
  tags: string[];
  body?: z.ZodType;
  querystring?: z.ZodType;
  params?: z.ZodType;
  response?: Record<number, z.ZodType | { description: string }>;
  security?: OperationSecurity[];
}): FastifySchema {
  const json = (schema: z.ZodType) =>
    z.toJSONSchema(schema, {
      target: "openapi-3.0",
      io: "input",
      unrepresentable: "any",
      override: (ctx) => {
        const target = ctx.jsonSchema as Record<string, unknown>;
        const shape = target.openapi as OpenApiShape | undefined;
        if (shape === undefined) return;
        const description = target.description;
        for (const key of Object.keys(target)) delete target[key];
        Object.assign(target, shape, description === undefined ? {} : { description });
      },
    });
  const schema: FastifySchema & { operationId: string } = {
    operationId: doc.operationId,
    summary: doc.summary,
    tags: doc.tags,
  };
  if (doc.body) schema.body = json(doc.body);
  if (doc.querystring) schema.querystring = json(doc.querystring);
  if (doc.params) schema.params = json(doc.params);
  if (doc.response) {
    schema.response = Object.fromEntries(
      Object.entries(doc.response).map(([status, r]) => [
        status,
        r instanceof z.ZodType ? { description: "OK", ...json(r) } : r,
      ]),
    );
  }
  if (doc.security) schema.security = doc.security.map((s) => ({ [s]: [] }));
  return schema;
}

/** 401 for Basic-authenticated APIs, so clients know to send a PAT. */
export function challengeBasic(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(401)
    .header("www-authenticate", 'Basic realm="patrol"')
    .send(errorBody(message, "UnauthorizedRequestException"));
}
